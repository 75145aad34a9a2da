"""Stream URLs and their credentials (parsing and masking live in vigil.secrets, shared with the store)."""

from __future__ import annotations

from vigil.secrets import mask_url, quote_credentials, scrub, with_credentials

__all__ = ["is_stream_url", "mask_url", "quote_credentials", "scrub", "with_credentials"]


def is_stream_url(source: str) -> bool:
    return "://" in source and not source.startswith("file://")
