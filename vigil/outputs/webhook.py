"""The webhook output (httpx): events POSTed in order, signed; one JSON object per request, or
with `events_per_post: N` JSON arrays of up to N events.

Headers: `X-Vigil-Signature: sha256=<hex HMAC-SHA256 of the body with the output's secret>`
(GitHub's scheme: the receiver recomputes it over the raw body), `Idempotency-Key: <run>-<id>`
(an array: `<first>..<last>`) and `X-Vigil-Event-Id: <id>` (an array: the ids, comma-separated);
a retry after a timeout may deliver an event twice, and the key lets the receiver drop the copy.
A 2xx is delivered; a timeout, connection error, 408, 425, 429 or 5xx is retried (the delivery
loop backs off exponentially with jitter); any other 4xx means the receiver will never take this
event: it is logged, counted as rejected and skipped, so one bad event cannot block the rest
forever. An array refused that way is sent again one event at a time, so one bad event (or a
receiver's size limit) does not cost the others in its array."""

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
        """POST `payloads` in order; (how many are done with: delivered or rejected, the error that
        stopped the rest or None)."""
        per = self.cfg.events_per_post
        i = 0
        while i < len(payloads):
            chunk = payloads[i:i + per]
            status, error = self._post(chunk if per > 1 else chunk[0])
            if error is not None:
                return i, error
            if status is not None and len(chunk) > 1:  # refused for good: find the bad one(s), keep the rest
                for j, p in enumerate(chunk):
                    one, error = self._post(p)
                    if error is not None:
                        return i + j, error
                    if one is not None:
                        self._reject(p, one)
            elif status is not None:
                self._reject(chunk[0], status)
            i += len(chunk)
        return len(payloads), None

    def _post(self, item: dict | list[dict]) -> tuple[int | None, str | None]:
        """One POST of an event or an array of them: (None, None) delivered; (status, None)
        refused for good; (None or status, error) to retry."""
        data = body(item)
        batch = item if isinstance(item, list) else [item]
        key = idempotency_key(batch[0]) + ("" if isinstance(item, dict) else f"..{idempotency_key(batch[-1])}")
        headers = {"Content-Type": "application/json", "Idempotency-Key": key,
                   "X-Vigil-Event-Id": ",".join(str(p["id"]) for p in batch)}
        if self.secret is not None:
            headers["X-Vigil-Signature"] = signature(self.secret, data)
        try:
            r = self.client.post(self.url, content=data, headers=headers)
        except httpx.HTTPError as exc:
            self.connected = False
            self.last_error = f"POST {self.shown} failed: {type(exc).__name__}: {scrub(str(exc), self.url)}"
            return None, self.last_error
        self.connected = True
        if 200 <= r.status_code < 300:
            return None, None
        if r.status_code in RETRY_STATUS or r.status_code >= 500:
            self.last_error = f"POST {self.shown} answered HTTP {r.status_code}"
            return r.status_code, self.last_error
        return r.status_code, None

    def _reject(self, p: dict, status: int) -> None:
        self.rejected += 1
        log.error("output %s: %s refused event %s with HTTP %d; skipped (fix the receiver)", self.name,
                  self.shown, p["id"], status, extra={"event": "output_rejected", "output": self.name})

    def close(self) -> None:
        self.client.close()
