"""rayship deployments."""
