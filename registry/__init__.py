"""rayship registry."""
