"""Counting: line crossings and polygon zones."""
