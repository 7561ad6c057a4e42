#!/usr/bin/env bash
# Generate the bot's training data from the guides and train Rasa when the
# training data or config changed (content hash); the model lives in var/bot/models.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TF_CPP_MIN_LOG_LEVEL=2 PYTHONWARNINGS=ignore RASA_TELEMETRY_ENABLED=false
.venv/bin/python scripts/bot_data.py
key=$(cat bot/config.yml bot/domain.yml bot/data/*.yml var/bot/data/*.yml var/bot/jieba/* | sha256sum | cut -c1-16)
if [ "$(cat var/stamps/bot-model 2>/dev/null)" = "$key" ] && [ -f var/bot/models/menpai.tar.gz ]; then
  echo "==> bot model up to date"; exit 0
fi
echo "==> training the Rasa model (takes a few minutes on 2 cores)"
started=$SECONDS
.venv-bot/bin/rasa train --config bot/config.yml --domain bot/domain.yml --data bot/data var/bot/data \
  --out var/bot/models --fixed-model-name menpai --quiet > var/log/bot-train.log 2>&1 \
  || { tail -30 var/log/bot-train.log >&2; echo "error: rasa train failed, see var/log/bot-train.log" >&2; exit 1; }
echo "$key" > var/stamps/bot-model
echo "==> Rasa model trained in $((SECONDS - started)) s"
