"""rayship training."""
