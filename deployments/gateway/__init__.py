"""The gateway application: one FastAPI ingress on `/` that routes each model's traffic over its version apps."""
