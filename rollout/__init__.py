"""rayship rollout."""
