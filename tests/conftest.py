"""Shared fixtures. Heavy objects (the index, the app) are built once per session.

The index under var/index is built by `make index` (a dependency of `make test`);
tests load it and fail loudly when it is missing or stale — they never skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from knowledge.service import KnowledgeBase
from knowledge.settings import Environment, Settings

ROOT = Path(__file__).resolve().parent.parent
# The index the tests load: var/index (built by `make index`), or a private copy built elsewhere.
INDEX = Path(os.environ.get("MENPAI_TEST_INDEX") or ROOT / "var" / "index")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # "No tests ran" must fail the run, never pass silently.
    if session.testscollected == 0:
        session.exitstatus = 1


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    var = tmp_path_factory.mktemp("var")
    (var / "index").symlink_to(INDEX)
    return Settings(
        environment=Environment.TEST,
        var_path=var,
        dense_required=True,
        rasa_url="http://127.0.0.1:9",
        rasa_timeout=0.5,
        staff_hours="always",
    )


@pytest.fixture(scope="session")
def kb(settings: Settings) -> KnowledgeBase:
    return KnowledgeBase.open(settings)


@pytest.fixture(scope="session")
def library(kb: KnowledgeBase):  # type: ignore[no-untyped-def]
    return kb.library


@pytest.fixture()
def client(settings: Settings, kb: KnowledgeBase, tmp_path: Path) -> Iterator[object]:
    from fastapi.testclient import TestClient

    from web.app import create_app

    app = create_app(settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'web.db'}"}), kb=kb)
    with TestClient(app) as c:
        yield c
