"""Domain exceptions of the knowledge package; web maps them to one error shape."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One problem in the content, phrased so an editor can fix it."""

    file: str
    line: int | None
    field: str
    message: str
    expected: str = ""
    hint: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        text = f"{where}: {self.field}: {self.message}"
        if self.expected:
            text += f" (expected: {self.expected})"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text


class MenpaiError(Exception):
    """Base of every error the packages raise on purpose."""

    status = 500
    code = "internal_error"


class ContentError(MenpaiError):
    """The guide library has problems; all of them are listed."""

    code = "content_error"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) in the guide library")


class NotFound(MenpaiError):
    status = 404
    code = "not_found"


class BadRequest(MenpaiError):
    status = 400
    code = "bad_request"


class StaleIndex(MenpaiError):
    """The index on disk was built from other guides than the ones present."""

    code = "stale_index"


class IndexMissing(MenpaiError):
    code = "index_missing"
