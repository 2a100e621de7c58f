"""rayship registry: the one seam between rayship and MLflow's model registry.

Its verbs live in `registry.api` (register, resolve, verify, download_verified) and `registry.catalog` (aliases,
tags, listing); importing this package imports nothing else, so the pure parts (`registry.uri`, `registry.tags`)
stay free of MLflow.
"""
