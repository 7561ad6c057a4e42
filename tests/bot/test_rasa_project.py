"""The Rasa project: data validates, test stories pass, action unit tests pass (run in .venv-bot)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BOT = ROOT / ".venv-bot" / "bin"
ENV = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONWARNINGS": "ignore"}

pytestmark = pytest.mark.integration


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=900)


def test_rasa_data_validate_is_clean() -> None:
    r = run(str(BOT / "rasa"), "data", "validate", "--domain", "bot/domain.yml", "--data", "bot/data",
            "var/bot/data", "--config", "bot/config.yml", "--fail-on-warnings")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]


def test_rasa_test_stories_pass(tmp_path: Path) -> None:
    r = run(str(BOT / "rasa"), "test", "core", "--stories", "bot/tests/test_stories.yml", "--model",
            "var/bot/models/menpai.tar.gz", "--endpoints", "bot/endpoints-test.yml", "--out", str(tmp_path),
            "--fail-on-prediction-errors")
    failed = (tmp_path / "failed_test_stories.yml")
    detail = failed.read_text() if failed.exists() else r.stdout[-3000:] + r.stderr[-3000:]
    assert r.returncode == 0, detail


def test_action_and_tracker_store_unit_tests_pass_in_the_bot_venv() -> None:
    r = run(str(BOT / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests", cwd=ROOT / "bot")
    assert r.returncode == 0, r.stdout[-3000:]
    assert " passed" in r.stdout and "failed" not in r.stdout
