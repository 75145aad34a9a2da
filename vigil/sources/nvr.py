"""NVR channel URLs (Hikvision, Dahua, generic template) and the credentials of a camera's stream.

Hikvision:  rtsp://HOST:554/Streaming/Channels/<channel><01 main | 02 sub>   (channel 3 sub -> 302)
Dahua:      rtsp://HOST:554/cam/realmonitor?channel=<channel>&subtype=<0 main | 1 sub>
Generic:    rtsp://HOST:PORT + path_template.format(channel=, stream=main|sub, subtype=0|1)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

from vigil.config.live import LiveConfig, NvrConfig
from vigil.config.site import CameraConfig
from vigil.errors import ConfigError
from vigil.sources.urls import mask_url, quote_credentials, with_credentials


def nvr_path(vendor: str, channel: int, stream: str, template: str | None = None) -> str:
    """The path (and query) of one channel's stream on an NVR of `vendor`."""
    subtype = 0 if stream == "main" else 1
    if vendor == "hikvision":
        return f"/Streaming/Channels/{channel}{subtype + 1:02d}"
    if vendor == "dahua":
        return f"/cam/realmonitor?channel={channel}&subtype={subtype}"
    if vendor == "generic":
        if not template:
            raise ConfigError("a generic NVR needs path_template, e.g. '/ch{channel}/{stream}'")
        try:
            path = template.format(channel=channel, stream=stream, subtype=subtype)
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigError(f"NVR path_template {template!r} is invalid ({exc}); use only {{channel}}, "
                              "{stream} and {subtype}") from None
        return path if path.startswith("/") else "/" + path
    raise ConfigError(f"unknown NVR vendor {vendor!r}; use hikvision, dahua or generic")


def nvr_url(nvr: NvrConfig, channel: int, stream: str = "main") -> str:
    """The channel's URL without credentials."""
    host = f"[{nvr.host}]" if ":" in nvr.host and not nvr.host.startswith("[") else nvr.host
    return f"rtsp://{host}:{nvr.port}{nvr_path(nvr.vendor, channel, stream, nvr.path_template)}"


def _password(owner: str, password, password_env: str | None) -> str | None:
    if password_env:
        value = os.environ.get(password_env)
        if value is None:
            raise ConfigError(f"{owner}: environment variable {password_env} (password_env) is not set; "
                              "export it or set it in the service's EnvironmentFile")
        return value
    return password.get_secret_value() if password is not None else None


@dataclass(frozen=True)
class StreamTarget:
    """Where a camera's video comes from. `url` holds the password: print `masked` instead."""

    camera_id: str
    url: str
    transport: Literal["tcp", "udp"] = "tcp"

    @property
    def masked(self) -> str:
        return mask_url(self.url)

    def __repr__(self) -> str:  # never leak the password through a repr in a log or traceback
        return f"StreamTarget({self.camera_id!r}, {self.masked!r}, {self.transport!r})"


def stream_target(camera: CameraConfig, live: LiveConfig, source: str | None) -> StreamTarget:
    """The camera's URL with credentials applied: an NVR channel, or `source` (an explicit URL or
    a file path already resolved by the caller). Camera credentials override the NVR's."""
    owner = f"camera '{camera.id}'"
    if camera.nvr:
        nvr = live.nvrs.get(camera.nvr)
        if nvr is None:
            known = ", ".join(sorted(live.nvrs)) or "none defined"
            raise ConfigError(f"{owner}: NVR '{camera.nvr}' is not in live.nvrs ({known}); add it or fix the name")
        url = nvr_url(nvr, camera.channel or 1, camera.stream)
        url = with_credentials(url, nvr.username, _password(f"NVR '{camera.nvr}'", nvr.password, nvr.password_env))
    elif source:
        url = quote_credentials(source)  # a raw '@' or '#' in the password must not split the URL
    else:
        raise ConfigError(f"{owner} has no source; set cameras[].source (rtsp:// URL or file) or nvr + channel")
    password = _password(owner, camera.password, camera.password_env)
    if camera.username is not None or password is not None:
        if "://" not in url:
            raise ConfigError(f"{owner}: username/password apply to stream URLs, but the source is a file")
        url = with_credentials(url, camera.username, password)
    return StreamTarget(camera.id, url, camera.transport)
