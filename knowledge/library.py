"""Load and validate the guide library: guides, halls, door plates, catalogue.

Every problem is collected, never only the first, and each names the file,
the line, the field, what was expected and how to fix it (datasette's
StartupError messages are the model). Bad content never raises a traceback:
callers get a ContentError with the full list.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from knowledge.errors import ContentError, Problem
from knowledge.normalize import Normalizer
from knowledge.schema import (
    CatalogueItem,
    Guide,
    Hall,
    HallLevel,
    HallsFile,
    Holiday,
    OutOfScopeFile,
    OutOfScopeTopic,
    Plate,
)

logger = logging.getLogger(__name__)

GUIDES_SUBDIR = "items"
HALLS_FILE = "halls.yaml"
PLATES_FILE = "plates.csv"
ALIASES_FILE = "aliases.yaml"
OUT_OF_SCOPE_FILE = "out_of_scope.yaml"
CATALOGUE_FILE = "catalogue.yaml"


@dataclass
class Library:
    """The validated content, ready for the index and the pages."""

    root: Path
    catalogue: dict[str, CatalogueItem]
    guides: dict[str, Guide]
    halls: dict[str, Hall]
    holidays: list[Holiday]
    plates: dict[str, Plate]
    normalizer: Normalizer
    content_hash: str = ""
    files: dict[str, Path] = field(default_factory=dict)
    out_of_scope: dict[str, OutOfScopeTopic] = field(default_factory=dict)

    def halls_for(self, item_code: str) -> list[Hall]:
        return [h for h in self.halls.values() if item_code in h.items]


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


def _positions(text: str) -> dict[tuple[Any, ...], int]:
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


def _line_for(lines: dict[tuple[Any, ...], int], loc: tuple[Any, ...]) -> int | None:
    # The deepest known prefix: a missing field points at its parent.
    for cut in range(len(loc), -1, -1):
        if loc[:cut] in lines:
            return lines[loc[:cut]]
    return None


def _field_name(loc: Iterable[Any]) -> str:
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


def _problems_from_validation(
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
                line=_line_for(lines, loc),
                field=_field_name(loc),
                message=msg,
                expected=expected,
                hint=_hint(err["type"], ctx),
            )
        )
    return problems


def _read_yaml(path: Path, rel: str, problems: list[Problem]) -> tuple[Any, dict[Any, int]]:
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
    return data, _positions(text)


def _model(
    model: type[BaseModel],
    data: Any,
    rel: str,
    lines: dict[Any, int],
    problems: list[Problem],
    prefix: tuple[Any, ...] = (),
) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems.extend(_problems_from_validation(exc, rel, lines, prefix))
        return None


# ---------------------------------------------------------------- loading


def _load_catalogue(path: Path, problems: list[Problem]) -> dict[str, CatalogueItem]:
    rel = str(path)
    data, lines = _read_yaml(path, rel, problems)
    items: dict[str, CatalogueItem] = {}
    if not isinstance(data, list):
        if data is not None:
            problems.append(Problem(rel, 1, "(file)", "the catalogue must be a list of items"))
        return items
    for i, row in enumerate(data):
        item = _model(CatalogueItem, row, rel, lines, problems, (i,))
        if item is not None:
            items[item.code] = item
    return items


def _load_plates(path: Path, rel: str, problems: list[Problem]) -> dict[str, Plate]:
    plates: dict[str, Plate] = {}
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(
            Problem(
                rel,
                None,
                "(file)",
                f"cannot read the plates file: {exc}",
                "a UTF-8 CSV file",
                "export the address register as UTF-8 CSV",
            )
        )
        return plates
    reader = csv.DictReader(text.splitlines())
    wanted = set(Plate.model_fields)
    have = set(reader.fieldnames or [])
    if not wanted <= have:
        problems.append(
            Problem(
                rel,
                1,
                "(header)",
                f"missing columns: {sorted(wanted - have)}",
                ",".join(Plate.model_fields),
                "add the missing columns",
            )
        )
        return plates
    for n, row in enumerate(reader, start=2):
        clean = {k: (v or "").strip() for k, v in row.items() if k in wanted}
        plate = _model(Plate, clean, rel, {(): n}, problems)
        if plate is None:
            continue
        if plate.code in plates:
            problems.append(
                Problem(
                    rel,
                    n,
                    "code",
                    f"plate code {plate.code} appears twice",
                    "unique plate codes",
                    "give each plate its own code",
                )
            )
        plates[plate.code] = plate
    return plates


def content_hash(root: Path, catalogue_path: Path) -> str:
    """A hash over every content file, so an index knows what it was built from."""
    digest = hashlib.sha256()
    files = [catalogue_path, root / ALIASES_FILE, root / HALLS_FILE, root / PLATES_FILE, root / OUT_OF_SCOPE_FILE]
    files += sorted((root / GUIDES_SUBDIR).glob("*.yaml"))
    for path in files:
        if path.exists():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def check_library(
    root: Path, catalogue_path: Path | None = None, today: dt.date | None = None
) -> tuple[Library | None, list[Problem]]:
    """Load everything under root and cross-check it.

    Returns:
        The library (None when anything is wrong) and the full list of problems.
    """
    root = Path(root)
    catalogue_path = catalogue_path or root / CATALOGUE_FILE
    today = today or dt.date.today()
    problems: list[Problem] = []

    if not catalogue_path.exists():
        problems.append(
            Problem(
                str(catalogue_path),
                None,
                "(file)",
                "catalogue file not found",
                "the catalogue of item codes",
                "set MENPAI_CATALOGUE_PATH",
            )
        )
    catalogue = _load_catalogue(catalogue_path, problems) if catalogue_path.exists() else {}

    aliases_path = root / ALIASES_FILE
    normalizer = Normalizer()
    if aliases_path.exists():
        data, _ = _read_yaml(aliases_path, _rel(aliases_path, root), problems)
        if isinstance(data, dict) and isinstance(data.get("replace"), dict):
            normalizer = Normalizer({str(k): str(v) for k, v in data["replace"].items()})
        elif data is not None:
            problems.append(
                Problem(
                    _rel(aliases_path, root),
                    1,
                    "replace",
                    "the aliases file needs a 'replace' mapping",
                    "replace: {wrong: right}",
                    "see the comment at the top",
                )
            )

    # Guides
    guides: dict[str, Guide] = {}
    files: dict[str, Path] = {}
    guide_lines: dict[str, dict[Any, int]] = {}
    guide_dir = root / GUIDES_SUBDIR
    if not guide_dir.is_dir():
        problems.append(
            Problem(
                str(guide_dir),
                None,
                "(folder)",
                "guides folder not found",
                "a folder of <code>.yaml guides",
                "check the path",
            )
        )
    for path in sorted(guide_dir.glob("*.yaml")) if guide_dir.is_dir() else []:
        rel = _rel(path, root)
        data, lines = _read_yaml(path, rel, problems)
        if data is None:
            if not any(p.file == rel for p in problems):
                problems.append(
                    Problem(rel, None, "(file)", "the file is empty", "a guide", "copy a complete guide as a start")
                )
            continue
        guide = _model(Guide, data, rel, lines, problems)
        if guide is None:
            problems.extend(_raw_refs(data, rel, lines, catalogue))
            continue
        if path.stem != guide.code:
            problems.append(
                Problem(
                    rel,
                    lines.get(("code",)),
                    "code",
                    f"file name {path.name} does not match code {guide.code}",
                    f"{guide.code}.yaml",
                    "rename the file or fix the code",
                )
            )
        if guide.code in guides:
            problems.append(
                Problem(
                    rel,
                    lines.get(("code",)),
                    "code",
                    f"a second guide for {guide.code} (first: {_rel(files[guide.code], root)})",
                    "exactly one guide per item",
                    "merge the two guides",
                )
            )
            continue
        guides[guide.code] = guide
        files[guide.code] = path
        guide_lines[guide.code] = lines

    # Halls
    halls: dict[str, Hall] = {}
    holidays: list[Holiday] = []
    halls_path = root / HALLS_FILE
    if halls_path.exists():
        rel = _rel(halls_path, root)
        data, lines = _read_yaml(halls_path, rel, problems)
        hf = _model(HallsFile, data, rel, lines, problems) if data is not None else None
        if hf is not None:
            holidays = list(hf.holidays)
            for i, hall in enumerate(hf.halls):
                if hall.code in halls:
                    problems.append(
                        Problem(
                            rel,
                            lines.get(("halls", i, "code")),
                            f"halls[{i}].code",
                            f"hall code {hall.code} appears twice",
                            "unique codes",
                            "give each hall its own code",
                        )
                    )
                halls[hall.code] = hall
                for j, code in enumerate(hall.items):
                    if catalogue and code not in catalogue:
                        problems.append(
                            Problem(
                                rel,
                                lines.get(("halls", i, "items", j)),
                                f"halls[{i}].items[{j}]",
                                f"unknown item code {code!r}",
                                "a code from the catalogue",
                                _suggest(code, catalogue),
                            )
                        )
    else:
        problems.append(
            Problem(
                str(halls_path),
                None,
                "(file)",
                "halls file not found",
                "guides/halls.yaml",
                "add the halls of the city",
            )
        )

    plates_path = root / PLATES_FILE
    plates: dict[str, Plate] = {}
    if plates_path.exists():
        plates = _load_plates(plates_path, _rel(plates_path, root), problems)
        towns = {h.town for h in halls.values()}
        for plate in plates.values():
            if towns and plate.town not in towns:
                problems.append(
                    Problem(
                        _rel(plates_path, root),
                        None,
                        f"plate {plate.code}.town",
                        f"town {plate.town!r} has no service centre in halls.yaml",
                        "a town named in halls.yaml",
                        "fix the town name",
                    )
                )
    else:
        problems.append(
            Problem(
                str(plates_path),
                None,
                "(file)",
                "plates file not found",
                "guides/plates.csv",
                "export door plates from the address register",
            )
        )

    out_of_scope: dict[str, OutOfScopeTopic] = {}
    oos_path = root / OUT_OF_SCOPE_FILE
    if oos_path.exists():
        rel = _rel(oos_path, root)
        data, lines = _read_yaml(oos_path, rel, problems)
        oos = _model(OutOfScopeFile, data, rel, lines, problems) if data is not None else None
        if oos is not None:
            for i, topic in enumerate(oos.topics):
                if topic.id in out_of_scope:
                    problems.append(
                        Problem(
                            rel,
                            lines.get(("topics", i, "id")),
                            f"topics[{i}].id",
                            f"topic id {topic.id} appears twice",
                            "unique ids",
                            "rename one",
                        )
                    )
                out_of_scope[topic.id] = topic

    problems.extend(_cross_check(guides, files, guide_lines, catalogue, halls, normalizer, root, today))
    ask_keys = {normalizer.key(a): c for c, g in guides.items() for a in g.asks}
    for topic in out_of_scope.values():
        for ask in topic.asks:
            owner = ask_keys.get(normalizer.key(ask))
            if owner:
                problems.append(
                    Problem(
                        _rel(oos_path, root),
                        None,
                        f"topic {topic.id}",
                        f"the ask {ask!r} is also in the guide {owner}",
                        "out-of-scope asks that no guide has",
                        "remove it from one of the two",
                    )
                )

    if problems:
        return None, problems
    lib = Library(
        root=root,
        catalogue=catalogue,
        guides=guides,
        halls=halls,
        holidays=holidays,
        plates=plates,
        normalizer=normalizer,
        content_hash=content_hash(root, catalogue_path),
        files=files,
        out_of_scope=out_of_scope,
    )
    return lib, []


def _cross_check(
    guides: dict[str, Guide],
    files: dict[str, Path],
    guide_lines: dict[str, Any],
    catalogue: dict[str, CatalogueItem],
    halls: dict[str, Hall],
    normalizer: Normalizer,
    root: Path,
    today: dt.date,
) -> list[Problem]:
    problems: list[Problem] = []
    ask_owner: dict[str, str] = {}
    for code, guide in guides.items():
        rel = _rel(files[code], root)
        lines = guide_lines[code]

        def line(*loc: Any, _lines: dict[Any, int] = lines) -> int | None:
            return _line_for(_lines, loc)

        if catalogue and code not in catalogue:
            problems.append(
                Problem(
                    rel,
                    line("code"),
                    "code",
                    f"{code!r} is not in the catalogue",
                    "a code from the catalogue",
                    _suggest(code, catalogue),
                )
            )
        elif code in catalogue and catalogue[code].bundle != guide.bundle:
            problems.append(
                Problem(
                    rel,
                    line("bundle"),
                    "bundle",
                    f"the catalogue says bundle: {catalogue[code].bundle}",
                    str(catalogue[code].bundle).lower(),
                    "match the catalogue",
                )
            )
        for fname in ("prerequisites", "follow_ups", "members"):
            for i, ref in enumerate(getattr(guide, fname)):
                if ref not in guides and ref not in catalogue:
                    problems.append(
                        Problem(
                            rel,
                            line(fname, i),
                            f"{fname}[{i}]",
                            f"unknown item code {ref!r}",
                            "a code of another guide",
                            _suggest(ref, catalogue),
                        )
                    )
                elif ref == code:
                    problems.append(
                        Problem(
                            rel,
                            line(fname, i),
                            f"{fname}[{i}]",
                            "a guide cannot refer to itself",
                            "another item's code",
                            "remove this entry",
                        )
                    )
        if guide.last_checked > today:
            problems.append(
                Problem(
                    rel,
                    line("last_checked"),
                    "last_checked",
                    f"{guide.last_checked} is in the future",
                    f"a date up to {today}",
                    "write the day the content was last checked",
                )
            )
        if halls:
            for level in guide.where.levels:
                if not any(h.level == level and code in h.items for h in halls.values()):
                    problems.append(
                        Problem(
                            rel,
                            line("where", "levels"),
                            "where.levels",
                            f"no {level.value} hall in halls.yaml handles {code}",
                            f"a {level.value} hall listing {code}",
                            f"add {code} to the items of a {level.value} hall, or remove the level",
                        )
                    )
        for i, ask in enumerate(guide.asks):
            key = normalizer.key(ask)
            if key in ask_owner and ask_owner[key] != code:
                problems.append(
                    Problem(
                        rel,
                        line("asks", i),
                        f"asks[{i}]",
                        f"the ask {ask!r} is also in the guide {ask_owner[key]}",
                        "asks unique across all guides",
                        "reword it or keep it only in the guide it belongs to",
                    )
                )
            ask_owner.setdefault(key, code)
    for code in catalogue:
        if code not in guides and not (root / GUIDES_SUBDIR / f"{code}.yaml").exists():
            problems.append(
                Problem(
                    _rel(root / GUIDES_SUBDIR / f"{code}.yaml", root),
                    None,
                    "(file)",
                    f"catalogue item {code} ({catalogue[code].name}) has no guide",
                    "one guide per catalogue item",
                    f"write guides/items/{code}.yaml",
                )
            )
    return problems


def _raw_refs(data: Any, rel: str, lines: dict[Any, int], catalogue: dict[str, CatalogueItem]) -> list[Problem]:
    """Reference checks for a guide that failed validation, so all problems show at once."""
    problems: list[Problem] = []
    if not isinstance(data, dict) or not catalogue:
        return problems
    for fname in ("prerequisites", "follow_ups", "members"):
        refs = data.get(fname)
        for i, ref in enumerate(refs if isinstance(refs, list) else []):
            if isinstance(ref, str) and ref not in catalogue:
                problems.append(
                    Problem(
                        rel,
                        _line_for(lines, (fname, i)),
                        f"{fname}[{i}]",
                        f"unknown item code {ref!r}",
                        "a code of another guide",
                        _suggest(ref, catalogue),
                    )
                )
    return problems


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root.parent))
    except ValueError:
        return str(path)


def _suggest(code: str, catalogue: dict[str, CatalogueItem]) -> str:
    import difflib

    close = difflib.get_close_matches(code, list(catalogue), n=3)
    return f"did you mean {', '.join(close)}?" if close else "see guides/catalogue.yaml for the codes"


def load_library(root: Path, catalogue_path: Path | None = None) -> Library:
    """Load the library or raise ContentError listing every problem."""
    lib, problems = check_library(root, catalogue_path)
    if lib is None:
        raise ContentError(problems)
    logger.info(
        "guide library loaded: %d guides, %d halls, %d plates", len(lib.guides), len(lib.halls), len(lib.plates)
    )
    return lib


__all__ = ["HallLevel", "Library", "check_library", "content_hash", "load_library"]
