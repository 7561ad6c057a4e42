from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from scripts.stack import ROOT, free_port, process, start_rasa, start_web


@dataclass
class Stack:
    web: str
    rasa_url: str
    rasa_proc: object
    actions_proc: object


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Action server + Rasa (REST channel, no HTTP API) + web, all real processes."""
    tmp = tmp_path_factory.mktemp("e2e")
    with ExitStack() as stack:
        bot = start_rasa(stack, tmp, timeout=240)
        web = start_web(stack, tmp, bot.url)
        yield Stack(web.url, bot.url, bot.rasa, bot.actions)


def screenshot_dir() -> Path:
    path = ROOT / "var" / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def web_without_rasa(tmp: Path, staff: list[tuple[str, str, str]], password: str) -> Iterator[str]:
    """A real web process (Rasa down: answers from retrieval) with staff accounts (username, name, role)."""
    (tmp / "var").mkdir()
    (tmp / "var" / "index").symlink_to(ROOT / "var" / "index")
    env = {
        "MENPAI_VAR_PATH": str(tmp / "var"),
        "MENPAI_RASA_URL": "http://127.0.0.1:9",
        "MENPAI_ENVIRONMENT": "test",
        "MENPAI_STAFF_HOURS": "always",
    }
    for username, name, role in staff:
        subprocess.run(
            [str(ROOT / ".venv/bin/menpai"), "staff", "add", username, "--name", name, "--role", role],
            env={**os.environ, **env, "MENPAI_STAFF_PASSWORD": password},
            check=True,
            capture_output=True,
        )
    port = free_port()
    with process(
        [str(ROOT / ".venv/bin/menpai"), "serve", "--port", str(port)],
        env=env,
        ready=f"http://127.0.0.1:{port}/healthz",
        log=tmp / "web.log",
    ):
        yield f"http://127.0.0.1:{port}"
