-- wrk script: one single-row KServe v1 prediction per request.
--   wrk -t2 -c64 -d120s --latency -s bench/post.lua http://127.0.0.1:8000/v1/models/iris:predict
wrk.method = "POST"
wrk.body = '{"instances": [[5.1, 3.5, 1.4, 0.2]]}'
wrk.headers["Content-Type"] = "application/json"
