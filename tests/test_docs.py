"""Docs stay in step with code: every setting is in README's table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from knowledge.settings import Settings

pytestmark = pytest.mark.unit
README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_setting_is_documented(name: str) -> None:
    assert re.search(rf"^\| `MENPAI_{name.upper()}` \|", README, re.M), f"add MENPAI_{name.upper()} to README"


def test_readme_starts_with_the_two_commands() -> None:
    first_block = README.split("```")[1]
    assert "make demo" in first_block and "make test" in first_block


def test_production_refuses_a_placeholder_secret() -> None:
    with pytest.raises(ValueError, match="MENPAI_SECRET_KEY must be set"):
        Settings(environment="production", secret_key="changethis")  # type: ignore[arg-type]
