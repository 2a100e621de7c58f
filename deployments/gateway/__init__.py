"""The gateway application: one Starlette ingress on `/` that routes each model's traffic over its version apps."""
