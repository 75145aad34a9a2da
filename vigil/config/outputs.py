"""The site's `outputs:` (where events go besides the database) and `outbox:` (how much the
outbox may hold while an output is away) sections.

Secrets (broker password, webhook signing key) use the config's ${NAME} / ${file:PATH}
references like the database URL does, and are SecretStr here, so no repr or log shows them.
`check_outputs` resolves every host at start-up: a typo is one line and exit 2 then, not a
delivery failure hours later. A host that resolves but is down is not an error: the outbox
keeps the events until it is back."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import Field, SecretStr, field_validator

from vigil.classes import canonical
from vigil.config.base import Strict, first_duplicate
from vigil.config.refs import resolve_file
from vigil.errors import ConfigError
from vigil.secrets import mask_url, split_url

_NAME = r"^[A-Za-z0-9_\-]+$"


class OutputFilter(Strict):
    """Which events an output gets; an empty list means all."""

    cameras: list[str] = Field(default_factory=list, description="camera ids")
    names: list[str] = Field(default_factory=list, description="line or zone names")
    kinds: list[Literal["line", "zone"]] = Field(default_factory=list, description="line, zone")
    classes: list[str] = Field(default_factory=list, description="class names, e.g. pedestrian, car "
                                                                 "(those the pipeline's detector reports)")
    directions: list[Literal["in", "out"]] = Field(default_factory=list, description="in, out")

    @field_validator("classes")
    @classmethod
    def _classes(cls, v):
        return [canonical(c) for c in v]  # events carry lower-case class names

    def match(self, camera: str, kind: str, name: str, class_name: str, direction: str) -> bool:
        return ((not self.cameras or camera in self.cameras) and (not self.names or name in self.names)
                and (not self.kinds or kind in self.kinds)
                and (not self.classes or canonical(class_name) in self.classes)
                and (not self.directions or direction in self.directions))


class RetryConfig(Strict):
    initial: float = Field(default=0.5, gt=0, le=600, description="seconds before the first retry")
    maximum: float = Field(default=30.0, gt=0, le=3600, description="longest wait between retries")
    jitter: float = Field(default=0.25, ge=0, le=1, description="random +- fraction of each wait")


class _Output(Strict):
    name: str = Field(min_length=1, max_length=64, pattern=_NAME, description="output name (letters, digits, _ -)")
    filter: OutputFilter = Field(default_factory=OutputFilter)
    retry: RetryConfig = Field(default_factory=RetryConfig)
    batch: int = Field(default=500, ge=1, le=10_000, description="outbox rows read per delivery step")


class TlsConfig(Strict):
    ca_file: str | None = Field(default=None, description="CA bundle (PEM); default: the system's")
    cert_file: str | None = Field(default=None, description="client certificate (PEM) for mutual TLS")
    key_file: str | None = Field(default=None, description="client key (PEM)")
    insecure: bool = Field(default=False, description="skip the broker host name check (testing only)")


class DiscoveryConfig(Strict):
    enabled: bool = Field(default=True, description="publish Home Assistant MQTT discovery configs")
    prefix: str = Field(default="homeassistant", min_length=1, description="HA's discovery prefix")


class MqttOutput(_Output):
    type: Literal["mqtt"]
    host: str = Field(min_length=1, description="broker host name or address")
    port: int = Field(default=1883, ge=1, le=65535, description="broker port (8883 is the usual TLS port)")
    username: str | None = Field(default=None, description="broker user")
    password: SecretStr | None = Field(default=None, description="broker password; use ${ENV} or ${file:...}")
    tls: TlsConfig | None = Field(default=None, description="connect with TLS (section present = on)")
    client_id: str | None = Field(default=None, description="MQTT client id prefix; each process adds -<random> "
                                                                 "(default vigil-<site>-<name>)")
    topic_prefix: str = Field(default="vigil", min_length=1, description="first level of every topic")
    qos: Literal[0, 1, 2] = Field(default=1, description="QoS of event messages (1: at least once)")
    keepalive: int = Field(default=30, ge=5, le=3600, description="seconds between keepalive pings")
    discovery: DiscoveryConfig = Field(default_factory=DiscoveryConfig)

    @field_validator("topic_prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        if any(c in v for c in "+#\0") or v.startswith("/") or v.endswith("/"):
            raise ValueError(f"topic_prefix {v!r} may not hold '+' or '#' nor start or end with '/'")
        return v


class WebhookOutput(_Output):
    type: Literal["webhook"]
    url: str = Field(min_length=1, description="http(s) URL events are POSTed to")
    secret: SecretStr | None = Field(default=None, description="HMAC-SHA256 key for X-Vigil-Signature; "
                                                               "use ${ENV} or ${file:...}")
    timeout: float = Field(default=10.0, gt=0, le=300, description="seconds per request")
    verify_tls: bool = Field(default=True, description="check the server's certificate")
    events_per_post: int = Field(default=1, ge=1, le=1000,
                                 description="1: each event is POSTed as a JSON object; more: as JSON arrays of "
                                             "up to this many events, in order (fewer requests at a busy site)")

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        parts = split_url(v)
        if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.host or not parts.host_ok:
            raise ValueError(f"url '{mask_url(v)}' is not an http:// or https:// URL with a host; "
                             "give e.g. https://example.org/hook")
        return v


Output = Annotated[Union[MqttOutput, WebhookOutput], Field(discriminator="type")]


class OutboxConfig(Strict):
    """Bounds of the outbox: rows older or beyond these are dropped (logged and counted in
    vigil_outbox_dropped_total) so an output that is gone for good cannot fill the disk."""

    max_age_hours: float = Field(default=168.0, gt=0, le=24 * 365,
                                 description="drop undelivered events older than this")
    max_rows: int = Field(default=1_000_000, ge=100, description="drop the oldest undelivered events beyond this")


def check_unique(outputs: list) -> None:
    dup = first_duplicate(o.name for o in outputs)
    if dup is not None:
        raise ValueError(f"output name {dup!r} is used twice; output names must be unique")


def endpoint(out: MqttOutput | WebhookOutput) -> tuple[str, int]:
    """(host, port) an output connects to."""
    if isinstance(out, MqttOutput):
        return out.host, out.port
    parts = split_url(out.url)
    assert parts is not None  # checked by the model
    tail = parts.hostport.rpartition(":")[2] if ":" in parts.hostport.lstrip("[") else ""
    return parts.host, int(tail) if tail.isdigit() else (443 if parts.scheme.lower() == "https" else 80)


# getaddrinfo's answers for a name that does not exist (as opposed to a DNS that is away)
_NO_SUCH_NAME = {socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)}


class _Check:
    """What check_outputs does to a host; a seam so tests can count look-ups."""

    @staticmethod
    def resolve(host: str, port: int) -> None:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


def check_outputs(outputs: list, camera_ids: list[str], base: Path, where: str = "outputs") -> None:
    """Everything about the outputs that can be known before starting: hosts resolve, TLS files
    exist, filters name cameras of the site. One ConfigError line naming the output otherwise."""
    for i, out in enumerate(outputs):
        at = f"{where}[{i}] ({out.name})"
        unknown = [c for c in out.filter.cameras if c not in camera_ids]
        if unknown:
            raise ConfigError(f"{at}: filter names camera '{unknown[0]}', which is not in the site; "
                              f"cameras: {', '.join(camera_ids)}")
        host, port = endpoint(out)
        what = "MQTT broker host" if isinstance(out, MqttOutput) else "webhook host"
        if isinstance(out, MqttOutput):
            if out.tls is not None:
                for key in ("ca_file", "cert_file", "key_file"):
                    name = getattr(out.tls, key)
                    if name is not None and not resolve_file(name, base).is_file():
                        raise ConfigError(f"{at}: tls.{key} '{resolve_file(name, base)}' does not exist; "
                                          "give the path of a PEM file")
        elif not 1 <= port <= 65535:
            raise ConfigError(f"{at}: port {port} in url '{mask_url(out.url)}' is not 1-65535; fix the url")
        try:
            _Check.resolve(host, port)
        except socket.gaierror as exc:
            if exc.errno not in _NO_SUCH_NAME:  # DNS not answering (yet, at boot): the output retries
                continue
            raise ConfigError(f"{at}: cannot resolve {what} '{host}' ({exc.strerror}); check the name "
                              "(a broker that is only down is fine: events wait in the outbox)") from None
        except (OSError, UnicodeError) as exc:
            why = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise ConfigError(f"{at}: cannot resolve {what} '{host}' ({why}); check the name "
                              "(a broker that is only down is fine: events wait in the outbox)") from None


