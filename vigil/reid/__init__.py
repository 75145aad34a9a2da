"""Re-identification: OSNet and the crop -> embedding step."""
