# The words people use. `make demo` and `make test` are the two README commands.
SHELL := /bin/bash
PY := .venv/bin/python
MENPAI := .venv/bin/menpai
export PYTHONDONTWRITEBYTECODE := 1
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export RASA_TELEMETRY_ENABLED := false
# Storage and handoff tests run on SQLite and on this PostgreSQL (the machine's loopback one by default).
export MENPAI_TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: setup index bot-train demo demo-scale test lint check bench plates clean

setup:  ## create/refresh .venv and .venv-bot (fast when nothing changed)
	@scripts/setup.sh

index: setup  ## build var/index when the guides changed
	@$(MENPAI) guides check
	@$(MENPAI) index status >/dev/null 2>&1 || $(MENPAI) -v index build

bot-train: setup  ## generate NLU data from the guides and train Rasa when data/config changed
	@scripts/bot_train.sh

demo: index bot-train  ## run the product on embedded defaults (SQLite, packaged model, sample guides)
	@scripts/run.sh

demo-scale: index bot-train  ## nginx on MENPAI_PORT in front of 2 web and 2 Rasa copies (PostgreSQL: MENPAI_DATABASE_URL, Redis)
	@scripts/setup.sh --nginx
	@scripts/run.sh scale

lint: setup  ## ruff (lint + format check) and mypy
	@.venv/bin/ruff check knowledge web tests scripts
	@.venv/bin/ruff format --check knowledge web tests scripts
	@.venv/bin/mypy

test: index bot-train  ## set up, lint, type-check and run the whole suite
	@scripts/setup.sh --browser
	@$(MAKE) --no-print-directory lint
	@.venv/bin/pytest -q --junitxml=var/test-results.xml

bench: index bot-train  ## accuracy, latency and memory → var/bench/
	@$(PY) scripts/bench.py

plates: setup  ## print-ready door plates (PDF) → var/plates/
	@$(MENPAI) plates make --format pdf --out var/plates/plates.pdf

clean:
	rm -rf var/index var/bench var/plates var/bot-model var/test-results.xml
