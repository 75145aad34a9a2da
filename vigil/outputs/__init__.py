"""Events out of Vigil: MQTT (with Home Assistant discovery) and signed webhooks, delivered
from the store's outbox by vigil.outputs.delivery, never from the analysis loop."""
