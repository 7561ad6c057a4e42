from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from scripts.stack import ROOT, start_rasa, start_web


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
