"""The retraining loop: alerts in, a Ray Job, a gated registration and a canary out."""
