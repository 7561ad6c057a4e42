from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.procs import ROOT, free_port, process


@dataclass
class Stack:
    web: str
    rasa_port: int
    rasa_proc: object


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Action server + Rasa (REST channel, no HTTP API) + web, all real processes."""
    tmp = tmp_path_factory.mktemp("e2e")
    actions_port, rasa_port, web_port = free_port(), free_port(), free_port()
    with ExitStack() as stack:
        stack.enter_context(
            process(
                [
                    str(ROOT / ".venv-bot/bin/rasa"),
                    "run",
                    "actions",
                    "--actions",
                    "actions",
                    "--port",
                    str(actions_port),
                ],
                ready=f"http://127.0.0.1:{actions_port}/health",
                log=tmp / "actions.log",
                cwd=ROOT / "bot",
            )
        )
        rasa = stack.enter_context(
            process(
                [str(ROOT / ".venv-bot/bin/python"), str(ROOT / "bot/serve.py")],
                ready=f"http://127.0.0.1:{rasa_port}/webhooks/rest/",
                log=tmp / "rasa.log",
                timeout=240,
                env={
                    "MENPAI_RASA_PORT": str(rasa_port),
                    "MENPAI_ACTION_URL": f"http://127.0.0.1:{actions_port}/webhook",
                    "MENPAI_RASA_TRACKER_URL": f"sqlite:///{tmp / 'tracker.db'}",
                },
            )
        )
        index = tmp / "var" / "index"
        index.parent.mkdir()
        index.symlink_to(ROOT / "var" / "index")
        stack.enter_context(
            process(
                [str(ROOT / ".venv/bin/menpai"), "serve", "--port", str(web_port)],
                ready=f"http://127.0.0.1:{web_port}/healthz",
                log=tmp / "web.log",
                env={
                    "MENPAI_RASA_URL": f"http://127.0.0.1:{rasa_port}",
                    "MENPAI_VAR_PATH": str(tmp / "var"),
                    "MENPAI_RASA_TIMEOUT": "5",
                    "MENPAI_ENVIRONMENT": "test",
                },
            )
        )
        yield Stack(f"http://127.0.0.1:{web_port}", rasa_port, rasa)


def screenshot_dir() -> Path:
    path = ROOT / "var" / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path
