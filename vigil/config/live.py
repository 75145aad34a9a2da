"""Live-daemon configuration (owned by the daemon): the site's `live:` section, its NVRs, and the
stream fields every camera entry may carry (`CameraStreamFields`, mixed into CameraConfig)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator

from vigil.config.base import Strict


class Credentials(Strict):
    """User and password for a camera or NVR: the password inline or, better, from an env var."""

    username: str | None = Field(default=None, description="RTSP user name")
    password: SecretStr | None = Field(default=None, description="RTSP password (prefer password_env)")
    password_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
                                     description="name of the environment variable holding the password")

    @model_validator(mode="after")
    def _one_password(self):
        if self.password is not None and self.password_env:
            raise ValueError("give either password or password_env, not both")
        return self


class NvrConfig(Credentials):
    """A network video recorder whose channels cameras can name."""

    vendor: Literal["hikvision", "dahua", "generic"] = Field(
        default="generic", description="URL scheme: hikvision, dahua, or generic (path_template)")
    host: str = Field(min_length=1, description="NVR host name or IP address")
    port: int = Field(default=554, ge=1, le=65535, description="RTSP port")
    path_template: str | None = Field(
        default=None, description="generic vendor only: path with {channel}, {stream} (main|sub) and "
                                  "{subtype} (0|1) placeholders, e.g. '/ch{channel}/{stream}'")

    @model_validator(mode="after")
    def _template(self):
        if self.vendor == "generic" and not self.path_template:
            raise ValueError("a generic NVR needs path_template, e.g. '/ch{channel}/{stream}'")
        return self


class BackoffConfig(Strict):
    initial: float = Field(default=1.0, gt=0, le=600, description="seconds before the first retry")
    maximum: float = Field(default=60.0, gt=0, le=3600, description="longest wait between retries")
    factor: float = Field(default=2.0, ge=1, le=10, description="growth per failed attempt")
    jitter: float = Field(default=0.25, ge=0, le=1, description="random +- fraction of each delay")
    healthy_after: float = Field(default=30.0, gt=0, description="seconds of streaming that reset the backoff")


class LeaseConfig(Strict):
    """Several `vigil run` workers sharing one site's cameras through PostgreSQL (vigil/live/leases.py)."""

    enabled: bool = Field(default=False, description="share the cameras with the other workers of this site "
                                                     "through leases in the database (PostgreSQL only)")
    ttl: float = Field(default=10.0, ge=3, le=300, description="seconds after its last renewal that a worker's "
                                                               "camera becomes free (the takeover bound)")
    renew: float = Field(default=2.0, gt=0, le=100, description="seconds between renewals; at most ttl / 3")

    @model_validator(mode="after")
    def _renew(self):
        if self.renew > self.ttl / 3:
            raise ValueError(f"lease renew ({self.renew:g} s) must be at most a third of ttl ({self.ttl:g} s)")
        return self


class LiveConfig(Strict):
    flush_interval: float = Field(default=1.0, gt=0, le=60, description="seconds between database flushes")
    open_timeout: float = Field(default=10.0, gt=0, le=300, description="seconds to open a stream")
    read_timeout: float = Field(default=10.0, gt=0, le=300, description="seconds without data before a "
                                                                        "stream counts as dead")
    max_lag: float = Field(default=2.0, gt=0, description="seconds a reader may fall behind its stream before "
                                                          "it skips to the next keyframe")
    backoff: BackoffConfig = Field(default_factory=BackoffConfig)
    nvrs: dict[str, NvrConfig] = Field(default_factory=dict, description="NVRs by name; cameras name one")
    metrics_port: int | None = Field(default=None, ge=0, le=65535,
                                     description="serve Prometheus metrics on this port (off when absent)")
    metrics_address: str = Field(default="127.0.0.1", description="address the metrics port binds to")
    status_file: str | None = Field(default=None, description="JSON health file `vigil status` reads; default "
                                                              "$RUNTIME_DIRECTORY or the temp dir, per site")
    status_interval: float = Field(default=1.0, gt=0, le=60, description="seconds between status file writes")
    log_format: Literal["text", "json"] = Field(default="text", description="'json': one JSON object per line")
    max_cameras: int | None = Field(default=None, ge=1, le=1024,
                                    description="most cameras this worker analyses at once (leases); default all")
    leases: LeaseConfig = Field(default_factory=LeaseConfig)
    hwaccel: Literal["auto", "cuda", "qsv", "vaapi", "none"] = Field(
        default="auto", description="video decode device: auto (a GPU/VPU when one opens, else software, "
                                    "silently), cuda, qsv, vaapi, or none (software). A named device that "
                                    "does not open falls back to software, with a warning once per camera "
                                    "and a count in `vigil status`")


class CameraStreamFields(Credentials):
    """Camera fields for live streams (CameraConfig inherits them); the credentials override
    those in the URL or of the NVR."""

    nvr: str | None = Field(default=None, description="name of an NVR in live.nvrs (instead of source)")
    channel: int | None = Field(default=None, ge=1, le=512, description="NVR channel, from 1")
    stream: Literal["main", "sub"] = Field(default="main", description="NVR stream: main or sub")
    transport: Literal["tcp", "udp"] = Field(default="tcp", description="RTSP transport")

    @model_validator(mode="after")
    def _stream_fields(self):
        source = getattr(self, "source", None)
        if self.nvr and source:
            raise ValueError("give either source or nvr + channel, not both")
        if self.nvr and self.channel is None:
            raise ValueError(f"camera on NVR {self.nvr!r} needs channel (1, 2, ...)")
        if self.channel is not None and not self.nvr:
            raise ValueError("channel is set but nvr is not; name the NVR (live.nvrs) it belongs to")
        return self
