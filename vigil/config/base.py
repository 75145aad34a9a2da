"""Shared config base: unknown keys fail loudly (Frigate's `extra="forbid"`)."""

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)
