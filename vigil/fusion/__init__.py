"""RGB-thermal registration, fusion methods and fusion quality metrics."""
