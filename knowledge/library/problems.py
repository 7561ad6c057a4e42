"""Problems with file:line: YAML read with line numbers, schema errors turned into problems.

Every problem names the file, the line, the field, what was expected and how to fix it
(datasette's StartupError messages are the model). The loaders and the checks report
through the helpers here.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from knowledge.errors import Problem

# ---------------------------------------------------------------- YAML with lines


class _LineLoader(yaml.SafeLoader):
    """SafeLoader used to compose nodes (for line numbers)."""


class _ContentLoader(yaml.SafeLoader):
    """SafeLoader that leaves dates as text: pydantic validates them with a clear message
    (PyYAML would raise a bare ValueError on 2026-13-01)."""


_ContentLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def positions(text: str) -> dict[tuple[Any, ...], int]:
    """Map a pydantic-style location tuple to a 1-based line number."""
    lines: dict[tuple[Any, ...], int] = {}
    try:
        root = yaml.compose(text, Loader=_LineLoader)
    except yaml.YAMLError:
        return lines

    def walk(node: yaml.Node, path: tuple[Any, ...]) -> None:
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = key_node.value
                lines[(*path, key)] = key_node.start_mark.line + 1
                walk(value_node, (*path, key))
        elif isinstance(node, yaml.SequenceNode):
            for index, child in enumerate(node.value):
                walk(child, (*path, index))

    if root is not None:
        walk(root, ())
    return lines


def line_for(lines: dict[tuple[Any, ...], int], loc: tuple[Any, ...]) -> int | None:
    # The deepest known prefix: a missing field points at its parent.
    for cut in range(len(loc), -1, -1):
        if loc[:cut] in lines:
            return lines[loc[:cut]]
    return None


def field_name(loc: Iterable[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(file)"


_HINTS = {
    "missing": "add this field; see guides/items/id-card-renew.yaml for a complete example",
    "extra_forbidden": "remove this field or fix its spelling; the schema lists the allowed names",
    "enum": "use exactly one of the allowed values",
    "too_short": "add more entries",
    "string_too_short": "write something here; empty text is not allowed",
    "string_pattern_mismatch": "use lower-case letters, digits and hyphens, e.g. id-card-renew",
    "date_from_datetime_parsing": "write the date as YYYY-MM-DD, e.g. 2026-11-15",
    "date_parsing": "write the date as YYYY-MM-DD, e.g. 2026-11-15",
    "date_type": "write the date as YYYY-MM-DD, e.g. 2026-11-15",
    "bool_parsing": "write true or false",
    "bool_type": "write true or false",
    "url_parsing": "write a full link starting with https://",
    "int_parsing": "write a whole number, e.g. 1",
    "float_parsing": "write a number with a decimal point, e.g. 118.3852",
    "list_type": "write a list (lines starting with '- ')",
    "model_type": "write a mapping (key: value lines) here",
    "value_error": "fix the value as the message says",
}


def _hint(kind: str, ctx: dict[str, Any]) -> str:
    if kind == "string_pattern_mismatch" and "A-Z" in str(ctx.get("pattern", "")):
        return "two capital letters and six digits, e.g. NA010001"
    return _HINTS.get(kind, "check the value against the schema")


def problems_from_validation(
    exc: ValidationError, file: str, lines: dict[tuple[Any, ...], int], prefix: tuple[Any, ...] = ()
) -> list[Problem]:
    problems = []
    for err in exc.errors(include_url=False):
        loc = (*prefix, *err["loc"])
        expected = ""
        ctx = err.get("ctx") or {}
        if "expected" in ctx:
            expected = str(ctx["expected"])
        elif err["type"] == "missing":
            expected = "a value for this required field"
        elif "min_length" in ctx:
            expected = f"at least {ctx['min_length']}"
        msg = str(err["msg"]).removeprefix("Value error, ")
        problems.append(
            Problem(
                file=file,
                line=line_for(lines, loc),
                field=field_name(loc),
                message=msg,
                expected=expected,
                hint=_hint(err["type"], ctx),
            )
        )
    return problems


def read_yaml(path: Path, rel: str, problems: list[Problem]) -> tuple[Any, dict[Any, int]]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        problems.append(
            Problem(
                rel,
                None,
                "(file)",
                f"not UTF-8 text ({exc.reason})",
                "a UTF-8 encoded YAML file",
                "save the file as UTF-8",
            )
        )
        return None, {}
    return parse_yaml(text, rel, problems)


def parse_yaml(text: str, rel: str, problems: list[Problem]) -> tuple[Any, dict[Any, int]]:
    try:
        data = yaml.load(text, Loader=_ContentLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        problems.append(
            Problem(
                rel,
                mark.line + 1 if mark else None,
                "(syntax)",
                f"YAML syntax error: {reason}",
                "valid YAML",
                "check indentation (spaces, not tabs) and quote text with ':'",
            )
        )
        return None, {}
    return data, positions(text)


def validate(
    model: type[BaseModel],
    data: Any,
    rel: str,
    lines: dict[Any, int],
    problems: list[Problem],
    prefix: tuple[Any, ...] = (),
) -> Any:
    """The data validated by a pydantic model, or None with its problems added (with lines)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems.extend(problems_from_validation(exc, rel, lines, prefix))
        return None


def rel_path(path: Path, root: Path) -> str:
    """A content file's name as problems show it: relative to the guides folder's parent."""
    try:
        return str(path.relative_to(root.parent))
    except ValueError:
        return str(path)


def suggest(code: str, catalogue: Mapping[str, object]) -> str:
    """The hint for an unknown code: the closest known codes (of the catalogue, or of the halls)."""
    close = difflib.get_close_matches(code, list(catalogue), n=3)
    return f"did you mean {', '.join(close)}?" if close else "see guides/catalogue.yaml for the codes"
