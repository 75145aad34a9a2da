"""Persistence: SQLAlchemy models, the batched writer, count queries."""
