#!/usr/bin/env bash
# `make demo`: the whole story from nothing, with the commands a user types. About 8-12 minutes on 2 cores.
#   cluster up -> train + register v1 (champion), its monitoring spec -> serve deploy -> live traffic with labels
#   -> train v2 -> canary: promoted -> a broken v3 -> rolled back on errors -> a v4 wrong with HTTP 200
#   -> rolled back on live accuracy -> traffic shifted on one feature -> that feature drifts -> the drift alert fires
#   in Prometheus -> the trigger retrains on the fresh data as a Ray Job -> the gate registers it -> the canary
#   promotes it -> the registry shows the chain.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
PY="$BIN/python"
say() { printf '\n\033[1m== [%s] %s\033[0m\n' "$(date +%T)" "$*"; }
TRAFFIC_PID=""
trap '[ -n "$TRAFFIC_PID" ] && kill "$TRAFFIC_PID" 2>/dev/null; true' EXIT

# A canary that must be rolled back: exit 1 means rolled back; 0 would be a promotion, 2 or 3 bad input or an
# unreachable cluster.
expect_rollback() {
  local rc=0
  $PY -m rollout canary --model iris --candidate "models:/iris/$1" || rc=$?
  if [ "$rc" -ne 1 ]; then
    echo "ERROR: expected models:/iris/$1 to be rolled back (exit 1), got exit $rc" >&2
    exit 1
  fi
  echo "models:/iris/$1 rolled back on its own, as it should be"
}

say "1/12 Bring up the local cluster: Ray head (token auth on), Serve proxy, MLflow server, Prometheus"
$PY -m cluster up
eval "$($PY -m cluster env)"

say "2/12 Train iris v1 with a Ray Tune sweep, every trial logged to MLflow; register the winner as champion"
$PY -m training sweep --config configs/training/iris-sklearn.yaml --register --alias champion
$PY -m monitoring apply configs/monitoring/iris.yaml

say "3/12 serve deploy configs/serve.yaml: the gateway + one application for models:/iris/1"
# The rollouts below keep the Serve config they were deployed from in step with what they apply, so deploying it
# again never undoes them; the demo works on a copy and leaves the repository's file as it is.
export RAYSHIP_SERVE_CONFIG=.rayship/serve.yaml
cp configs/serve.yaml "$RAYSHIP_SERVE_CONFIG"
$BIN/serve deploy "$RAYSHIP_SERVE_CONFIG"
for _ in $(seq 1 120); do
  curl -sf -o /dev/null "$RAYSHIP_SERVE_URL/v2/models/iris/ready" && break
  sleep 2
done
$BIN/serve status | grep -E "^ *(gateway|iris-v[0-9]+):|status:" | head -8 || true
curl -s -i "$RAYSHIP_SERVE_URL/v1/models/iris:predict" -H 'content-type: application/json' \
  -d '{"instances": [[5.1, 3.5, 1.4, 0.2]]}' | grep -iE "^(HTTP|x-model-version|x-request-id)|predictions"

say "4/12 Live traffic: 15 requests/s of iris rows, each one's true class sent back as a label (feedback API)"
$PY -m scripts.demo_steps traffic --model iris --rps 15 --duration-s 1200 &
TRAFFIC_PID=$!

say "5/12 Train a challenger (v2) the same way"
$PY -m training sweep --config configs/training/iris-sklearn.yaml --register
V2=$($PY -m scripts.demo_steps newest-version iris)

say "6/12 Canary models:/iris/$V2: weights step up while the analysis watches errors, latency and live accuracy"
$PY -m rollout canary --model iris --candidate "models:/iris/$V2"

say "7/12 Register v3, honestly broken: it starts and passes health checks, then fails on every real input"
V3=$($PY -m scripts.demo_steps register-broken iris | tail -n 1)  # MLflow prints run links before it
echo "registered models:/iris/$V3"
expect_rollback "$V3"

say "8/12 Register v4, wrong with HTTP 200: healthy, fast, every answer a 200, trained on shuffled class names"
V4=$($PY -m scripts.demo_steps register-mislabelled iris | tail -n 1)
echo "registered models:/iris/$V4"
expect_rollback "$V4"
$PY -m rollout status --model iris || true
echo "What the rollouts applied, kept in $RAYSHIP_SERVE_CONFIG (serve deploy it again and nothing changes):"
diff configs/serve.yaml "$RAYSHIP_SERVE_CONFIG" || true

say "9/12 Traffic shifted on one feature (petal length +2.5 cm): its drift crosses the threshold, the others do not"
kill "$TRAFFIC_PID" 2>/dev/null || true
TRAFFIC_PID=""
$PY -m scripts.demo_steps traffic --model iris --rps 30 --duration-s 25 --shift 'petal length (cm)=2.5'
sleep 6  # replicas push their counts every 2 s
$PY -m monitoring status --model iris

say "10/12 The monitoring report: reference against live per drifting feature, accuracy over time per version"
$PY -m monitoring report --model iris

say "11/12 Close the loop: the traffic stays shifted; the drift alert fires, the trigger retrains and canaries"
$PY -m scripts.demo_steps fresh-data --shift 'petal length (cm)=2.5' --out .rayship/data/iris-fresh.csv
$PY -m scripts.demo_steps traffic --model iris --rps 15 --duration-s 900 --shift 'petal length (cm)=2.5' \
  > .rayship/logs/demo-shifted-traffic.log 2>&1 &
TRAFFIC_PID=$!
echo "alerts: $RAYSHIP_PROMETHEUS_URL/alerts   (rules: python -m monitoring rules)"
timeout 600 $PY -m monitoring watch --model iris --exit-after-cycle --interval-s 2

say "12/12 The chain as the registry keeps it: alert, job, run, version, gate, canary, verdict"
$PY -m monitoring status --model iris | sed -n '/retraining cycle/,$p'
NEWEST=$($PY -m scripts.demo_steps newest-version iris)
$PY -m registry show "models:/iris/$NEWEST"

say "Done. Look at:"
echo "  Ray dashboard (Serve tab)  $RAY_DASHBOARD_ADDRESS   (token: cat $RAY_AUTH_TOKEN_PATH)"
echo "  Prometheus and its alerts  $RAYSHIP_PROMETHEUS_URL/alerts"
echo "  Grafana dashboard          import $(pwd)/monitoring/grafana/rayship-models.json (datasource: that Prometheus)"
echo "  MLflow UI                  $MLFLOW_TRACKING_URI   (experiment iris-sklearn, model iris: aliases and verdict tags)"
echo "  Rollout reports            $(pwd)/reports/"
echo "  Monitoring reports         $(pwd)/.rayship/reports/"
echo "  Drift and accuracy metrics ray_rayship_feature_drift, ray_rayship_live_accuracy in Prometheus ($RAYSHIP_PROMETHEUS_URL/graph)"
echo "  Predictions                curl -s $RAYSHIP_SERVE_URL/v1/models/iris:predict -H 'content-type: application/json' -d '{\"instances\": [[5.1, 3.5, 1.4, 0.2]]}'"
echo "Stop everything with: make down"
