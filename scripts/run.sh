#!/usr/bin/env bash
# Run the three processes on embedded defaults: action server, Rasa (loopback REST
# channel, no HTTP API) and web. Ctrl-C stops all three.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TF_CPP_MIN_LOG_LEVEL=2 RASA_TELEMETRY_ENABLED=false PYTHONWARNINGS=ignore
mkdir -p var/log
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
(cd bot && exec ../.venv-bot/bin/rasa run actions --actions actions --port 5055) > var/log/actions.log 2>&1 &
pids+=($!)
.venv-bot/bin/python bot/serve.py > var/log/rasa.log 2>&1 &
pids+=($!)
.venv/bin/menpai staff demo
port=${MENPAI_PORT:-8000}
echo "==> web on http://127.0.0.1:$port  — try the door plate http://127.0.0.1:$port/p/NA010001"
echo "    (Rasa takes ~30 s to load; until then chats are answered from retrieval alone)"
echo "    logs: var/log/actions.log var/log/rasa.log"
.venv/bin/menpai serve &
pids+=($!)
wait -n "${pids[@]}"
