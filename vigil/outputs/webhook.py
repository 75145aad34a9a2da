"""The webhook output (httpx): one JSON POST per event, in order, signed.

Headers: `X-Vigil-Signature: sha256=<hex HMAC-SHA256 of the body with the output's secret>`
(GitHub's scheme: the receiver recomputes it over the raw body), `Idempotency-Key: <run>-<id>`
and `X-Vigil-Event-Id: <id>` (a retry after a timeout may deliver an event twice; the key lets
the receiver drop the copy). A 2xx is delivered; a timeout, connection error, 408, 425, 429 or
5xx is retried (the delivery loop backs off exponentially with jitter); any other 4xx means the
receiver will never take this event: it is logged, counted as rejected and skipped, so one bad
event cannot block the rest forever."""

from __future__ import annotations

import hashlib
import hmac
import logging

import httpx

from vigil import __version__
from vigil.config.outputs import WebhookOutput
from vigil.outputs.message import body, idempotency_key
from vigil.secrets import mask_url, scrub

log = logging.getLogger("vigil.outputs")

RETRY_STATUS = {408, 425, 429}


def signature(secret: bytes, data: bytes) -> str:
    return "sha256=" + hmac.new(secret, data, hashlib.sha256).hexdigest()


class WebhookSink:
    def __init__(self, cfg: WebhookOutput) -> None:
        self.cfg, self.name = cfg, cfg.name
        self.url = cfg.url
        self.shown = mask_url(cfg.url)  # a token in the URL's query never reaches a log
        self.secret = cfg.secret.get_secret_value().encode() if cfg.secret else None
        self.client = httpx.Client(timeout=cfg.timeout, verify=cfg.verify_tls, follow_redirects=False,
                                   headers={"User-Agent": f"vigil/{__version__}"})
        self.connected = True
        self.last_error: str | None = None
        self.rejected = 0

    def start(self) -> None:
        pass

    def tick(self) -> None:
        pass

    def deliver(self, payloads: list[dict]) -> tuple[int, str | None]:
        for i, p in enumerate(payloads):
            data = body(p)
            headers = {"Content-Type": "application/json", "Idempotency-Key": idempotency_key(p),
                       "X-Vigil-Event-Id": str(p["id"])}
            if self.secret is not None:
                headers["X-Vigil-Signature"] = signature(self.secret, data)
            try:
                r = self.client.post(self.url, content=data, headers=headers)
            except httpx.HTTPError as exc:
                self.connected = False
                self.last_error = f"POST {self.shown} failed: {type(exc).__name__}: {scrub(str(exc), self.url)}"
                return i, self.last_error
            self.connected = True
            if 200 <= r.status_code < 300:
                continue
            if r.status_code in RETRY_STATUS or r.status_code >= 500:
                self.last_error = f"POST {self.shown} answered HTTP {r.status_code}"
                return i, self.last_error
            self.rejected += 1
            log.error("output %s: %s refused event %s with HTTP %d; skipped (fix the receiver)", self.name,
                      self.shown, p["id"], r.status_code, extra={"event": "output_rejected", "output": self.name})
        return len(payloads), None

    def close(self) -> None:
        self.client.close()
