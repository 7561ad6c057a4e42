#!/usr/bin/env bash
# Run the three processes on embedded defaults: action server, Rasa (loopback REST
# channel, no HTTP API) and web. A process that dies is restarted; Ctrl-C stops all three.
# `scripts/run.sh scale` (make demo-scale): nginx in front of 2 web and 2 Rasa copies on
# PostgreSQL (MENPAI_DATABASE_URL) and Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TF_CPP_MIN_LOG_LEVEL=2 RASA_TELEMETRY_ENABLED=false PYTHONWARNINGS=ignore
.venv/bin/menpai staff demo
exec .venv/bin/python scripts/stack.py "${1:-run}" --port "${MENPAI_PORT:-8000}"
