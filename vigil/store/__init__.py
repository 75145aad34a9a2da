"""Persistence: SQLAlchemy tables, Alembic migrations, the batched writer, count queries."""

from vigil.store.engine import StoreError
from vigil.store.store import Store
from vigil.store.timebuckets import QueryError
from vigil.store.writer import EventWriter

__all__ = ["EventWriter", "QueryError", "Store", "StoreError"]
