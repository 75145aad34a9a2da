"""`vigil replay`: recorded video through the whole pipeline (being written)."""
