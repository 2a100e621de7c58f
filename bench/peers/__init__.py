"""The peers `bench_peers.py` measures rayship's gateway against: MLServer (with and without adaptive batching) and a
hand-written FastAPI app. One concern a module: `server` (the protocol every server meets, rayship's included),
`process` (a server process pinned to one core), `mlserver_venv` and `mlserver`, `fastapi_peer`, `load` (wrk),
`report` (medians, ratios, the table).
"""
