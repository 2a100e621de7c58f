-- wrk script: the same single-row request as post.lua, as an OIP v2 inference request.
--   wrk -t2 -c64 -d120s --latency -s bench/post_oip.lua http://127.0.0.1:8000/v2/models/iris/infer
wrk.method = "POST"
wrk.body = '{"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": [5.1, 3.5, 1.4, 0.2]}]}'
wrk.headers["Content-Type"] = "application/json"
