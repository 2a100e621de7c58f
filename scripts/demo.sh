#!/usr/bin/env bash
# `make demo`: the whole story from nothing, with the commands a user types. About 6-10 minutes on 2 cores.
#   cluster up -> train + register v1 (champion) -> serve deploy -> live traffic -> train v2 -> canary: promoted
#   -> register a broken v3 -> canary: rolled back on its own -> where to look.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
PY="$BIN/python"
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
TRAFFIC_PID=""
trap '[ -n "$TRAFFIC_PID" ] && kill "$TRAFFIC_PID" 2>/dev/null; true' EXIT

say "1/8 Bring up the local cluster: Ray head (token auth on), Serve proxy, MLflow server"
$PY -m cluster up
eval "$($PY -m cluster env)"

say "2/8 Train iris v1 with a Ray Tune sweep, every trial logged to MLflow; register the winner as champion"
$PY -m training sweep --config configs/training/iris-sklearn.yaml --register --alias champion

say "3/8 serve deploy configs/serve.yaml: the gateway + one application for models:/iris/1"
$BIN/serve deploy configs/serve.yaml
for _ in $(seq 1 120); do
  curl -sf -o /dev/null "$RAYSHIP_SERVE_URL/v2/models/iris/ready" && break
  sleep 2
done
$BIN/serve status | grep -E "^ *(gateway|iris-v[0-9]+):|status:" | head -8 || true
curl -s -i "$RAYSHIP_SERVE_URL/v1/models/iris:predict" -H 'content-type: application/json' \
  -d '{"instances": [[5.1, 3.5, 1.4, 0.2]]}' | grep -iE "^(HTTP|x-model-version)|predictions"

say "4/8 Live traffic: 15 requests/s to the gateway in the background"
$PY -m scripts.demo_steps traffic --model iris --rps 15 --duration-s 900 &
TRAFFIC_PID=$!

say "5/8 Train a challenger (v2) the same way"
$PY -m training sweep --config configs/training/iris-sklearn.yaml --register
V2=$($PY -m scripts.demo_steps newest-version iris)

say "6/8 Canary models:/iris/$V2: weights step up while the analysis watches live per-version metrics"
$PY -m rollout canary --model iris --candidate "models:/iris/$V2"

say "7/8 Register v3, honestly broken: it starts and passes health checks, then fails on every real input"
V3=$($PY -m scripts.demo_steps register-broken iris | tail -n 1)  # MLflow prints run links before it
echo "registered models:/iris/$V3"

say "8/8 Canary models:/iris/$V3: the analysis must roll it back on its own"
# Exit 1 means rolled back; 0 would be a promotion and 2 or 3 a bad input or an unreachable cluster.
rc=0
$PY -m rollout canary --model iris --candidate "models:/iris/$V3" || rc=$?
if [ "$rc" -ne 1 ]; then
  echo "ERROR: expected the broken candidate to be rolled back (exit 1), got exit $rc" >&2
  exit 1
fi
echo "rolled back on its own, as it should be"
$PY -m rollout status --model iris || true

say "Done. Look at:"
echo "  Ray dashboard (Serve tab)  $RAY_DASHBOARD_ADDRESS   (token: cat $RAY_AUTH_TOKEN_PATH)"
echo "  MLflow UI                  $MLFLOW_TRACKING_URI   (experiment iris-sklearn, model iris: aliases and verdict tags)"
echo "  Rollout reports            $(pwd)/reports/"
echo "  Predictions                curl -s $RAYSHIP_SERVE_URL/v1/models/iris:predict -H 'content-type: application/json' -d '{\"instances\": [[5.1, 3.5, 1.4, 0.2]]}'"
echo "Stop everything with: make down"
