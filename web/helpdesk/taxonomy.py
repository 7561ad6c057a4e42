"""The 12345 work-order taxonomy a county can replace: each type's deadline in working days, and the categories.

Read from ``MENPAI_WORKORDER_TAXONOMY`` (default guides/workorders.yaml) at start; a broken file
stops the start with every problem named (ContentError), as a broken guide does.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from knowledge.errors import ContentError, Problem
from web.db.tables import OrderType

DEFAULT_DUE_DAYS = {OrderType.CONSULT: 2, OrderType.SUGGESTION: 10, OrderType.HELP: 10, OrderType.COMPLAINT: 15}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TypeRule(_Model):
    due_days: int = Field(ge=1, le=60, description="working days from 受理 to 办结")


class Category(_Model):
    code: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9.-]*$")
    name: str = Field(min_length=1, max_length=32)
    children: list[Category] = Field(default_factory=list)


class Taxonomy(_Model):
    types: dict[OrderType, TypeRule]
    categories: list[Category] = Field(default_factory=list)

    @classmethod
    def default(cls) -> Taxonomy:
        return cls(types={t: TypeRule(due_days=d) for t, d in DEFAULT_DUE_DAYS.items()})

    def due_days(self, kind: OrderType) -> int:
        return self.types[kind].due_days

    def flat(self) -> list[tuple[str, str]]:
        """(code, "大类 / 小类") of every category, parents before their children."""
        out: list[tuple[str, str]] = []

        def walk(cats: list[Category], prefix: str) -> None:
            for c in cats:
                label = f"{prefix}{c.name}"
                out.append((c.code, label))
                walk(c.children, f"{label} / ")

        walk(self.categories, "")
        return out

    def label(self, code: str | None) -> str:
        return dict(self.flat()).get(code or "", "")


def load_taxonomy(path: Path) -> Taxonomy:
    """The taxonomy file, checked: every type has a deadline, category codes are unique."""
    name = str(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ContentError(
            [Problem(name, None, "file", "the work-order taxonomy is missing", hint="copy guides/workorders.yaml")]
        ) from None
    except yaml.YAMLError as exc:
        raise ContentError([Problem(name, None, "yaml", f"not valid YAML: {exc}")]) from None
    try:
        taxonomy = Taxonomy.model_validate(data)
    except ValidationError as exc:
        raise ContentError(
            [
                Problem(name, None, ".".join(str(p) for p in e["loc"]), e["msg"], hint="see guides/workorders.yaml")
                for e in exc.errors()
            ]
        ) from None
    problems = [
        Problem(name, None, f"types.{t.value}", "missing", expected="due_days: N", hint="every type needs a deadline")
        for t in OrderType
        if t not in taxonomy.types
    ]
    codes = [code for code, _ in taxonomy.flat()]
    problems += [
        Problem(name, None, "categories", f"code {code!r} appears twice", hint="codes are unique")
        for code in sorted({c for c in codes if codes.count(c) > 1})
    ]
    if problems:
        raise ContentError(problems)
    return taxonomy
