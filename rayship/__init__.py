"""rayship's shared roots: the one error hierarchy (`rayship.errors`) that every package may import."""
