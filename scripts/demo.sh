#!/usr/bin/env bash
# `make demo`: the main job, from nothing, with the commands a user would type.
# Stages are added as rayship grows; each says what it did.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "1. Bring up the local cluster: Ray head (token auth on), Serve proxy, MLflow server"
$BIN/python -m cluster up
eval "$($BIN/python -m cluster env)"

say "2. What runs where"
$BIN/python -m cluster status

say "Done. Look at:"
echo "  Ray dashboard   $RAY_DASHBOARD_ADDRESS   (token: \$(cat $RAY_AUTH_TOKEN_PATH))"
echo "  MLflow UI       $MLFLOW_TRACKING_URI"
echo "  Serve HTTP      $RAYSHIP_SERVE_URL"
echo "Stop everything with: make down"
