"""Vigil: video surveillance analytics."""
__version__ = "0.1.0"
