"""Wire protocols as thin adapters: each codec turns a request body into `Features` and a `Prediction` into JSON.

`oip` is the Open Inference Protocol v2, `kserve_v1` KServe's v1 `:predict`, `mlflow_scoring` MLflow's
`/invocations` formats. Each declares its predict endpoint as a `PredictCodec` (paths, accepted content types,
decode, encode), from which the gateway builds its routes. They know nothing of HTTP frameworks or Serve; errors
are `InvalidInputError`s naming the problem.
"""
