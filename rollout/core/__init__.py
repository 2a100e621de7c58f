"""The pure rollout core: specs, observations, analysis and the state machine. Nothing here imports Ray, MLflow,
HTTP clients or the file system; the driver feeds it values and applies what it decides."""
