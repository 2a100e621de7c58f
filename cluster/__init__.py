"""rayship cluster."""
