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
    AskBatch,
    CatalogueItem,
    Guide,
    Hall,
    HallLevel,
    HallsFile,
    Holiday,
    Lookup,
    LookupFile,
    OutOfScopeFile,
    OutOfScopeTopic,
    Plate,
    Referral,
    ReferralFile,
)

logger = logging.getLogger(__name__)

GUIDES_SUBDIR = "items"
HALLS_FILE = "halls.yaml"
PLATES_FILE = "plates.csv"
ALIASES_FILE = "aliases.yaml"
OUT_OF_SCOPE_FILE = "out_of_scope.yaml"
CATALOGUE_FILE = "catalogue.yaml"
ASKS_DIR = "asks"
REFERRALS_DIR = "referrals"
LOOKUPS_FILE = "lookups.yaml"
GUIDE_BATCH = "guide"  # the asks written in the guide itself


@dataclass(frozen=True, slots=True)
class AskRecord:
    """One ask of an item, with the writer batch and the style it came from."""

    item: str
    q: str
    batch: str
    style: str
    situation: str | None = None


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
    asks: list[AskRecord] = field(default_factory=list)
    referrals: dict[str, Referral] = field(default_factory=dict)
    lookups: dict[str, Lookup] = field(default_factory=dict)

    def asks_of(self, item: str) -> list[AskRecord]:
        return [a for a in self.asks if a.item == item]

    def halls_for(self, item_code: str) -> list[Hall]:
        return [h for h in self.halls.values() if item_code in h.items]

    def put_guide(self, guide: Guide) -> None:
        """Replace one guide in place (a published edit), with the asks written in it."""
        self.guides[guide.code] = guide
        kept = [a for a in self.asks if a.item != guide.code or a.batch != GUIDE_BATCH]
        self.asks[:] = [*kept, *(AskRecord(guide.code, q, GUIDE_BATCH, GUIDE_BATCH) for q in guide.asks)]


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
    return _parse_yaml(text, rel, problems)


def _parse_yaml(text: str, rel: str, problems: list[Problem]) -> tuple[Any, dict[Any, int]]:
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
        guide = _guide_of(data, lines, rel, catalogue, problems)
        if guide is None:
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
    asks = _load_asks(root, guides, normalizer, problems)
    referrals = _load_named(root / REFERRALS_DIR, "*.yaml", ReferralFile, "referrals", root, problems)
    lookups = _load_named(root, LOOKUPS_FILE, LookupFile, "lookups", root, problems)
    problems.extend(_check_topics(asks, referrals, lookups, out_of_scope, catalogue, normalizer))
    problems.extend(_check_out_of_scope_asks(guides, out_of_scope, normalizer, _rel(oos_path, root)))

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
        asks=asks,
        referrals=referrals,
        lookups=lookups,
    )
    return lib, []


def _check_out_of_scope_asks(
    guides: dict[str, Guide], out_of_scope: dict[str, OutOfScopeTopic], normalizer: Normalizer, rel: str
) -> list[Problem]:
    """An out-of-scope topic never has an ask that a guide has."""
    problems: list[Problem] = []
    ask_keys = {normalizer.key(a): c for c, g in guides.items() for a in g.asks}
    for topic in out_of_scope.values():
        for ask in topic.asks:
            owner = ask_keys.get(normalizer.key(ask))
            if owner:
                problems.append(
                    Problem(
                        rel,
                        None,
                        f"topic {topic.id}",
                        f"the ask {ask!r} is also in the guide {owner}",
                        "out-of-scope asks that no guide has",
                        "remove it from one of the two",
                    )
                )
    return problems


def _load_asks(
    root: Path, guides: dict[str, Guide], normalizer: Normalizer, problems: list[Problem]
) -> list[AskRecord]:
    """The guides' own asks, then every writer batch under guides/asks/<batch>/<item>.yaml."""
    records = [AskRecord(code, q, GUIDE_BATCH, GUIDE_BATCH) for code, g in sorted(guides.items()) for q in g.asks]
    seen = {normalizer.key(r.q): r for r in records}
    for path in sorted((root / ASKS_DIR).glob("*/*.yaml")):
        rel = _rel(path, root)
        data, lines = _read_yaml(path, rel, problems)
        batch = _model(AskBatch, data, rel, lines, problems) if data is not None else None
        if batch is None:
            continue
        guide = guides.get(batch.item)
        where = ("batch",) if batch.batch != path.parent.name else ("item",) if batch.item != path.stem else None
        if where is not None:
            problems.append(
                Problem(
                    rel,
                    lines.get(where),
                    where[0],
                    f"the file says {where[0]} {getattr(batch, where[0])!r}",
                    f"{path.parent.name if where[0] == 'batch' else path.stem} (the folder / file name)",
                    "put the file in guides/asks/<batch>/<item>.yaml",
                )
            )
            continue
        if guide is None:
            problems.append(
                Problem(rel, lines.get(("item",)), "item", f"no guide {batch.item!r}", "a guide's code", "fix the code")
            )
            continue
        situation_ids = {s.id for s in guide.situations}
        for i, ask in enumerate(batch.asks):
            if ask.situation is not None and ask.situation not in situation_ids:
                problems.append(
                    Problem(
                        rel,
                        _line_for(lines, ("asks", i)),
                        f"asks[{i}].situation",
                        f"{batch.item} has no situation {ask.situation!r}",
                        ", ".join(sorted(situation_ids)),
                        "use one of the guide's situation ids, or leave situation out",
                    )
                )
                continue
            key = normalizer.key(ask.q)
            if key in seen:
                other = seen[key]
                problems.append(
                    Problem(
                        rel,
                        _line_for(lines, ("asks", i)),
                        f"asks[{i}]",
                        f"the ask {ask.q!r} is already in {other.item} (batch {other.batch})",
                        "asks unique across all guides and batches",
                        "reword it or remove it",
                    )
                )
                continue
            record = AskRecord(batch.item, ask.q, batch.batch, ask.style, ask.situation)
            seen[key] = record
            records.append(record)
    return records


def _load_named(
    folder: Path, pattern: str, model: type[BaseModel], key: str, root: Path, problems: list[Problem]
) -> dict[str, Any]:
    """Referral or look-up entries from one file or a folder of files, ids unique across them."""
    entries: dict[str, Any] = {}
    for path in sorted(folder.glob(pattern)):
        rel = _rel(path, root)
        data, lines = _read_yaml(path, rel, problems)
        loaded = _model(model, data, rel, lines, problems) if data is not None else None
        for i, entry in enumerate(getattr(loaded, key, None) or []):
            if entry.id in entries:
                problems.append(
                    Problem(
                        rel,
                        lines.get((key, i, "id")),
                        f"{key}[{i}].id",
                        f"id {entry.id} appears twice",
                        "unique ids across all files",
                        "rename one",
                    )
                )
            entries[entry.id] = entry
    return entries


def _check_topics(
    asks: list[AskRecord],
    referrals: dict[str, Referral],
    lookups: dict[str, Lookup],
    out_of_scope: dict[str, OutOfScopeTopic],
    catalogue: dict[str, CatalogueItem],
    normalizer: Normalizer,
) -> list[Problem]:
    """Referral, look-up and out-of-scope entries never collide with an item or with each other."""
    problems: list[Problem] = []
    owner: dict[str, str] = {normalizer.key(a.q): f"guide {a.item}" for a in asks}
    names = {normalizer.key(c.name): c.code for c in catalogue.values()}
    kinds: list[tuple[str, str, dict[str, Any]]] = [
        ("referral", f"guides/{REFERRALS_DIR}/", referrals),
        ("look-up", f"guides/{LOOKUPS_FILE}", lookups),
        ("out-of-scope topic", f"guides/{OUT_OF_SCOPE_FILE}", out_of_scope),
    ]
    ids: dict[str, str] = {code: "catalogue item" for code in catalogue}
    for kind, file, entries in kinds:
        for entry in entries.values():
            if entry.id in ids:
                problems.append(
                    Problem(
                        file,
                        None,
                        f"{kind} {entry.id}",
                        f"id {entry.id} is also a {ids[entry.id]}",
                        "an id of its own",
                        "rename it",
                    )
                )
            ids.setdefault(entry.id, kind)
            if normalizer.key(entry.name) in names:
                problems.append(
                    Problem(
                        file,
                        None,
                        f"{kind} {entry.id}",
                        f"{entry.name!r} is the catalogue item {names[normalizer.key(entry.name)]}",
                        "services that have no guide",
                        "remove it: the guide answers this",
                    )
                )
            if kind == "out-of-scope topic":
                continue  # its asks are checked against the guides below, as before
            for ask in entry.asks:
                key = normalizer.key(ask)
                if key in owner:
                    problems.append(
                        Problem(
                            file,
                            None,
                            f"{kind} {entry.id}",
                            f"the ask {ask!r} is also in {owner[key]}",
                            "asks unique across guides, referrals and look-ups",
                            "remove it from one of them",
                        )
                    )
                owner.setdefault(key, f"{kind} {entry.id}")
    return problems


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
        review = guide.review
        for fname, value in (("compiled_on", review.compiled_on), ("verified_on", review.verified_on)):
            if value is not None and value > today:
                problems.append(
                    Problem(
                        rel,
                        line("review", fname),
                        f"review.{fname}",
                        f"{value} is in the future",
                        f"a date up to {today}",
                        "write the day it really happened",
                    )
                )
        if review.verified_on and review.next_review and review.next_review <= review.verified_on:
            problems.append(
                Problem(
                    rel,
                    line("review", "next_review"),
                    "review.next_review",
                    f"{review.next_review} is not after verified_on {review.verified_on}",
                    "a date after verified_on",
                    "set when the guide should be checked again, e.g. a year after verified_on",
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


def _guide_of(
    data: Any, lines: dict[Any, int], rel: str, catalogue: dict[str, CatalogueItem], problems: list[Problem]
) -> Guide | None:
    """The guide in a parsed file; else its problems: empty, the schema's, and unknown codes it names."""
    if data is None:
        if not any(p.file == rel for p in problems):
            problems.append(
                Problem(rel, None, "(file)", "the file is empty", "a guide", "copy a complete guide as a start")
            )
        return None
    guide: Guide | None = _model(Guide, data, rel, lines, problems)
    if guide is None:
        problems.extend(_raw_refs(data, rel, lines, catalogue))
    return guide


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


def guide_path(lib: Library, code: str) -> Path:
    """Where the guide for a code lives (or would live) under the library's root."""
    return lib.files.get(code) or lib.root / GUIDES_SUBDIR / f"{code}.yaml"


def check_guide_text(
    lib: Library, code: str, text: str, today: dt.date | None = None
) -> tuple[Guide | None, list[Problem]]:
    """Validate one guide's YAML text as if it replaced guides/items/<code>.yaml in a loaded library.

    The rules are check_library's, run against what is loaded (the other guides, the batches of
    asks, halls, catalogue, referrals, look-ups, out-of-scope topics), so that text accepted here
    passes ``menpai guides check`` once written back to its file.

    Returns:
        The guide (None when anything is wrong) and every problem found.
    """
    today = today or dt.date.today()
    path = guide_path(lib, code)
    rel = _rel(path, lib.root)
    problems: list[Problem] = []
    data, lines = _parse_yaml(text, rel, problems)
    guide = _guide_of(data, lines, rel, lib.catalogue, problems)
    if guide is None:
        return None, problems
    if guide.code != code:
        problems.append(
            Problem(
                rel,
                lines.get(("code",)),
                "code",
                f"file name {path.name} does not match code {guide.code}",
                f"{guide.code}.yaml",
                f"keep code: {code} (a guide cannot change its code here)",
            )
        )
        return None, problems
    # The edited guide goes last, so a clash with another guide is reported on it.
    guides = {c: g for c, g in lib.guides.items() if c != code}
    guides[code] = guide
    files = {**lib.files, code: path}
    guide_lines: dict[str, dict[Any, int]] = {c: {} for c in guides}
    guide_lines[code] = lines
    problems.extend(_cross_check(guides, files, guide_lines, lib.catalogue, lib.halls, lib.normalizer, lib.root, today))
    problems.extend(_check_against_batches(guide, lib, rel, lines))
    asks = [a for a in lib.asks if a.item != code or a.batch != GUIDE_BATCH]
    asks += [AskRecord(code, q, GUIDE_BATCH, GUIDE_BATCH) for q in guide.asks]
    problems.extend(_check_topics(asks, lib.referrals, lib.lookups, lib.out_of_scope, lib.catalogue, lib.normalizer))
    oos_rel = _rel(lib.root / OUT_OF_SCOPE_FILE, lib.root)
    problems.extend(_check_out_of_scope_asks({code: guide}, lib.out_of_scope, lib.normalizer, oos_rel))
    return (None if problems else guide), problems


def _check_against_batches(guide: Guide, lib: Library, rel: str, lines: dict[Any, int]) -> list[Problem]:
    """The rules _load_asks applies to the batches, seen from the edited guide."""
    problems: list[Problem] = []
    situation_ids = {s.id for s in guide.situations}
    for sid in sorted({a.situation for a in lib.asks_of(guide.code) if a.situation} - situation_ids):
        batches = sorted({a.batch for a in lib.asks_of(guide.code) if a.situation == sid})
        problems.append(
            Problem(
                rel,
                _line_for(lines, ("situations",)),
                "situations",
                f"asks in {', '.join(f'guides/{ASKS_DIR}/{b}/{guide.code}.yaml' for b in batches)} "
                f"are labelled with the situation {sid!r}, which this guide no longer has",
                ", ".join(sorted(situation_ids)),
                f"keep a situation with id: {sid}, or relabel those asks first",
            )
        )
    batch_keys = {lib.normalizer.key(a.q): a for a in lib.asks if a.batch != GUIDE_BATCH}
    for i, ask in enumerate(guide.asks):
        other = batch_keys.get(lib.normalizer.key(ask))
        if other is not None:
            problems.append(
                Problem(
                    rel,
                    _line_for(lines, ("asks", i)),
                    f"asks[{i}]",
                    f"the ask {ask!r} is already in {other.item} (batch {other.batch})",
                    "asks unique across all guides and batches",
                    "reword it or remove it",
                )
            )
    return problems


def guide_from_text(text: str, rel: str = "(guide)") -> Guide:
    """Parse a guide's YAML text (one already checked); raises ContentError when it is not a guide."""
    problems: list[Problem] = []
    data, lines = _parse_yaml(text, rel, problems)
    guide = _model(Guide, data, rel, lines, problems) if data is not None else None
    if guide is None:
        raise ContentError(problems or [Problem(rel, None, "(file)", "the file is empty")])
    return guide


def load_library(root: Path, catalogue_path: Path | None = None) -> Library:
    """Load the library or raise ContentError listing every problem."""
    lib, problems = check_library(root, catalogue_path)
    if lib is None:
        raise ContentError(problems)
    logger.info(
        "guide library loaded: %d guides, %d halls, %d plates", len(lib.guides), len(lib.halls), len(lib.plates)
    )
    return lib


__all__ = [
    "HallLevel",
    "Library",
    "check_guide_text",
    "check_library",
    "content_hash",
    "guide_from_text",
    "guide_path",
    "load_library",
]
