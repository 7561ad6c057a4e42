"""Loaders, one per kind of content file: catalogue, aliases, guides, halls, plates,
out-of-scope topics, batches of asks, referrals and look-ups.

A loader reads and parses one file (or one folder of files of a kind) and validates it
against its schema; it reports what is wrong with the file itself (missing, not UTF-8,
YAML syntax, schema, a key a file repeats) as problems with file:line, and never raises.
The rules across files (codes that must exist, names that must match) are in ``checks``.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from knowledge.errors import ContentError, Problem
from knowledge.library.model import (
    ALIASES_FILE,
    ASKS_DIR,
    GUIDES_SUBDIR,
    HALLS_FILE,
    LOOKUPS_FILE,
    OUT_OF_SCOPE_FILE,
    PLATES_FILE,
    REFERRALS_DIR,
    SLOTS_FILE,
)
from knowledge.library.problems import line_for, parse_yaml, read_yaml, rel_path, suggest, validate
from knowledge.normalize import Normalizer
from knowledge.schema import AskBatch, CatalogueItem, Guide, HallsFile, OutOfScopeFile, Plate, SlotsFile


def load_catalogue(path: Path, problems: list[Problem]) -> dict[str, CatalogueItem]:
    """The catalogue of item codes (a missing file is a problem, and an empty catalogue)."""
    if not path.exists():
        problems.append(
            Problem(
                str(path),
                None,
                "(file)",
                "catalogue file not found",
                "the catalogue of item codes",
                "set MENPAI_CATALOGUE_PATH",
            )
        )
        return {}
    rel = str(path)
    data, lines = read_yaml(path, rel, problems)
    items: dict[str, CatalogueItem] = {}
    if not isinstance(data, list):
        if data is not None:
            problems.append(Problem(rel, 1, "(file)", "the catalogue must be a list of items"))
        return items
    for i, row in enumerate(data):
        item = validate(CatalogueItem, row, rel, lines, problems, (i,))
        if item is not None:
            items[item.code] = item
    return items


def load_aliases(root: Path, problems: list[Problem]) -> Normalizer:
    """The normaliser with the aliases file's replacements (plain when there is no file)."""
    aliases_path = root / ALIASES_FILE
    normalizer = Normalizer()
    if aliases_path.exists():
        data, _ = read_yaml(aliases_path, rel_path(aliases_path, root), problems)
        if isinstance(data, dict) and isinstance(data.get("replace"), dict):
            english = data.get("english")
            english = english if isinstance(english, dict) else {}
            normalizer = Normalizer(
                {str(k): str(v) for k, v in data["replace"].items()}, {str(k): str(v) for k, v in english.items()}
            )
        elif data is not None:
            problems.append(
                Problem(
                    rel_path(aliases_path, root),
                    1,
                    "replace",
                    "the aliases file needs a 'replace' mapping",
                    "replace: {wrong: right}",
                    "see the comment at the top",
                )
            )
    return normalizer


def guide_files(root: Path, problems: list[Problem]) -> list[Path]:
    """The guide files under guides/items/, in order (a missing folder is a problem)."""
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
        return []
    return sorted(guide_dir.glob("*.yaml"))


@dataclass(frozen=True)
class GuideFile:
    """A guide as loaded from its file, with the file's name as shown and its line numbers."""

    path: Path
    rel: str
    lines: dict[Any, int]
    guide: Guide


def load_guide(path: Path, rel: str, catalogue: dict[str, CatalogueItem], problems: list[Problem]) -> GuideFile | None:
    """One guide file, or None with its problems."""
    data, lines = read_yaml(path, rel, problems)
    guide = guide_of(data, lines, rel, catalogue, problems)
    return None if guide is None else GuideFile(path, rel, lines, guide)


def guide_of(
    data: Any, lines: dict[Any, int], rel: str, catalogue: dict[str, CatalogueItem], problems: list[Problem]
) -> Guide | None:
    """The guide in a parsed file; else its problems: empty, the schema's, and unknown codes it names."""
    if data is None:
        if not any(p.file == rel for p in problems):
            problems.append(
                Problem(rel, None, "(file)", "the file is empty", "a guide", "copy a complete guide as a start")
            )
        return None
    guide: Guide | None = validate(Guide, data, rel, lines, problems)
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
                        line_for(lines, (fname, i)),
                        f"{fname}[{i}]",
                        f"unknown item code {ref!r}",
                        "a code of another guide",
                        suggest(ref, catalogue),
                    )
                )
    return problems


def guide_from_text(text: str, rel: str = "(guide)") -> Guide:
    """Parse a guide's YAML text (one already checked); raises ContentError when it is not a guide."""
    problems: list[Problem] = []
    data, lines = parse_yaml(text, rel, problems)
    guide = validate(Guide, data, rel, lines, problems) if data is not None else None
    if guide is None:
        raise ContentError(problems or [Problem(rel, None, "(file)", "the file is empty")])
    return guide


@dataclass(frozen=True)
class LoadedFile:
    """A file validated by its schema, with the file's name as shown and its line numbers."""

    rel: str
    lines: dict[Any, int]
    model: Any


def load_halls(root: Path, problems: list[Problem]) -> LoadedFile | None:
    """guides/halls.yaml (halls and holidays); a missing file is a problem."""
    halls_path = root / HALLS_FILE
    if not halls_path.exists():
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
        return None
    rel = rel_path(halls_path, root)
    data, lines = read_yaml(halls_path, rel, problems)
    hf = validate(HallsFile, data, rel, lines, problems) if data is not None else None
    return None if hf is None else LoadedFile(rel, lines, hf)


def load_slots(root: Path, problems: list[Problem]) -> LoadedFile | None:
    """guides/slots.yaml (the appointments halls publish); no file = no appointments, not a problem."""
    path = root / SLOTS_FILE
    if not path.exists():
        return None
    rel = rel_path(path, root)
    data, lines = read_yaml(path, rel, problems)
    model = validate(SlotsFile, data, rel, lines, problems) if data is not None else None
    return None if model is None else LoadedFile(rel, lines, model)


def load_plates(root: Path, problems: list[Problem], path: Path | None = None) -> dict[str, Plate] | None:
    """guides/plates.csv (or ``path``, an export of the address register in the same columns),
    one plate a row (None when there is no file: a problem)."""
    path = path or root / PLATES_FILE
    if not path.exists():
        problems.append(
            Problem(
                str(path),
                None,
                "(file)",
                "plates file not found",
                "guides/plates.csv",
                "export door plates from the address register",
            )
        )
        return None
    rel = rel_path(path, root)
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
        plate = validate(Plate, clean, rel, {(): n}, problems)
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


def load_out_of_scope(root: Path, problems: list[Problem]) -> LoadedFile | None:
    """guides/out_of_scope.yaml, the topics that are not county services (the file is optional)."""
    oos_path = root / OUT_OF_SCOPE_FILE
    if not oos_path.exists():
        return None
    rel = rel_path(oos_path, root)
    data, lines = read_yaml(oos_path, rel, problems)
    oos = validate(OutOfScopeFile, data, rel, lines, problems) if data is not None else None
    return None if oos is None else LoadedFile(rel, lines, oos)


@dataclass(frozen=True)
class BatchFile:
    """One writer batch of asks, guides/asks/<batch>/<item>.yaml."""

    path: Path
    rel: str
    lines: dict[Any, int]
    batch: AskBatch


def ask_batch_files(root: Path) -> list[Path]:
    return sorted((root / ASKS_DIR).glob("*/*.yaml"))


def load_ask_batch(path: Path, root: Path, problems: list[Problem]) -> BatchFile | None:
    """One batch file of asks, or None with its problems."""
    rel = rel_path(path, root)
    data, lines = read_yaml(path, rel, problems)
    batch = validate(AskBatch, data, rel, lines, problems) if data is not None else None
    return None if batch is None else BatchFile(path, rel, lines, batch)


def load_named(
    folder: Path, pattern: str, model: type[BaseModel], key: str, root: Path, problems: list[Problem]
) -> dict[str, Any]:
    """Referral or look-up entries from one file or a folder of files, ids unique across them."""
    entries: dict[str, Any] = {}
    for path in sorted(folder.glob(pattern)):
        rel = rel_path(path, root)
        data, lines = read_yaml(path, rel, problems)
        loaded = validate(model, data, rel, lines, problems) if data is not None else None
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


def content_hash(root: Path, catalogue_path: Path) -> str:
    """A hash over every content file the index is built from (the guides, the writers' asks,
    referrals, look-ups and out-of-scope topics, aliases, halls, plates), so an index knows
    what it was built from and a new ask makes it stale."""
    digest = hashlib.sha256()
    files = [root / ALIASES_FILE, root / HALLS_FILE, root / PLATES_FILE, root / OUT_OF_SCOPE_FILE, root / LOOKUPS_FILE]
    files += sorted((root / GUIDES_SUBDIR).glob("*.yaml"))
    files += ask_batch_files(root)
    files += sorted((root / REFERRALS_DIR).glob("*.yaml"))
    digest.update(catalogue_path.name.encode())
    if catalogue_path.exists():
        digest.update(catalogue_path.read_bytes())
    for path in files:
        if path.exists():
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
