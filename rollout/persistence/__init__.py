"""What survives a driver: the rollout store (state and event log), the lease, the progress history, and the
atomic-write and JSON-lines helpers under them."""
