"""Model monitoring: reference profiles, replica sketches, drift and live accuracy."""
