from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.procs import ROOT, free_port, process, start_rasa


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
    web_port = free_port()
    with ExitStack() as stack:
        bot = start_rasa(stack, tmp, timeout=240)
        index = tmp / "var" / "index"
        index.parent.mkdir()
        index.symlink_to(ROOT / "var" / "index")
        stack.enter_context(
            process(
                [str(ROOT / ".venv/bin/menpai"), "serve", "--port", str(web_port)],
                ready=f"http://127.0.0.1:{web_port}/healthz",
                log=tmp / "web.log",
                env={
                    "MENPAI_RASA_URL": bot.url,
                    "MENPAI_VAR_PATH": str(tmp / "var"),
                    "MENPAI_RASA_TIMEOUT": "5",
                    "MENPAI_ENVIRONMENT": "test",
                },
            )
        )
        yield Stack(f"http://127.0.0.1:{web_port}", bot.url, bot.rasa, bot.actions)


def screenshot_dir() -> Path:
    path = ROOT / "var" / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path
