"""The library's rules, one ``check_*`` function per rule, and the runs of them.

``check_library`` loads every content file (``loaders``) and runs the rules in a fixed
order, so problems come out in the same order every time: the steps of ``LIBRARY_STEPS``,
each a loader followed by the rules of what it loaded. ``check_guide_text`` runs the same
rules for one edited guide against a loaded library. Every problem is collected, never
only the first; bad content never raises a traceback: ``load_library`` raises one
ContentError with the full list.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from knowledge.errors import ContentError, Problem
from knowledge.library.loaders import (
    BatchFile,
    GuideFile,
    ask_batch_files,
    content_hash,
    guide_files,
    guide_of,
    load_aliases,
    load_ask_batch,
    load_catalogue,
    load_guide,
    load_halls,
    load_named,
    load_out_of_scope,
    load_plates,
    load_slots,
)
from knowledge.library.model import (
    ASKS_DIR,
    CATALOGUE_FILE,
    FAQ_ASKS_DIR,
    GUIDE_BATCH,
    GUIDES_SUBDIR,
    LOOKUPS_FILE,
    OUT_OF_SCOPE_FILE,
    PLATES_FILE,
    REFERRALS_DIR,
    AskRecord,
    FaqAskRecord,
    Library,
    guide_path,
)
from knowledge.library.problems import line_for, parse_yaml, read_yaml, rel_path, suggest, validate
from knowledge.normalize import Normalizer
from knowledge.schema import (
    CatalogueItem,
    FaqAskFile,
    Guide,
    Hall,
    Holiday,
    Lookup,
    LookupFile,
    OutOfScopeTopic,
    Plate,
    Referral,
    ReferralFile,
    SlotsFile,
)

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------- a guide's file


def check_file_name(
    guide: Guide, path: Path, rel: str, lines: dict[Any, int], hint: str = "rename the file or fix the code"
) -> Problem | None:
    """A guide's code is its file's name (guides/items/<code>.yaml)."""
    if path.stem == guide.code:
        return None
    return Problem(
        rel,
        lines.get(("code",)),
        "code",
        f"file name {path.name} does not match code {guide.code}",
        f"{guide.code}.yaml",
        hint,
    )


def check_one_guide_per_item(loaded: GuideFile, files: dict[str, Path], root: Path) -> Problem | None:
    """No second guide for an item (``files``: the guides loaded so far)."""
    code = loaded.guide.code
    if code not in files:
        return None
    return Problem(
        loaded.rel,
        loaded.lines.get(("code",)),
        "code",
        f"a second guide for {code} (first: {rel_path(files[code], root)})",
        "exactly one guide per item",
        "merge the two guides",
    )


# ---------------------------------------------------------------- a guide among the others


@dataclass(frozen=True)
class GuideInLibrary:
    """What the rules of one guide see: the guide, where it is written, and the rest."""

    code: str
    guide: Guide
    rel: str
    lines: dict[Any, int]
    guides: dict[str, Guide]
    catalogue: dict[str, CatalogueItem]
    halls: dict[str, Hall]
    today: dt.date
    ask_owner: dict[str, str]  # normalised ask → the first guide (in order) that has it
    normalizer: Normalizer

    def line(self, *loc: Any) -> int | None:
        return line_for(self.lines, loc)


def check_code_in_catalogue(g: GuideInLibrary) -> list[Problem]:
    """A guide's code is a catalogue item."""
    if g.catalogue and g.code not in g.catalogue:
        return [
            Problem(
                g.rel,
                g.line("code"),
                "code",
                f"{g.code!r} is not in the catalogue",
                "a code from the catalogue",
                suggest(g.code, g.catalogue),
            )
        ]
    return []


def check_bundle_matches_catalogue(g: GuideInLibrary) -> list[Problem]:
    """A guide is a bundle (一件事) exactly when the catalogue says so."""
    item = g.catalogue.get(g.code)
    if item is not None and item.bundle != g.guide.bundle:
        return [
            Problem(
                g.rel,
                g.line("bundle"),
                "bundle",
                f"the catalogue says bundle: {item.bundle}",
                str(item.bundle).lower(),
                "match the catalogue",
            )
        ]
    return []


def check_references(g: GuideInLibrary) -> list[Problem]:
    """Prerequisites, follow-ups and members name other known items, never the guide itself."""
    problems: list[Problem] = []
    for fname in ("prerequisites", "follow_ups", "members"):
        for i, ref in enumerate(getattr(g.guide, fname)):
            if ref not in g.guides and ref not in g.catalogue:
                problems.append(
                    Problem(
                        g.rel,
                        g.line(fname, i),
                        f"{fname}[{i}]",
                        f"unknown item code {ref!r}",
                        "a code of another guide",
                        suggest(ref, g.catalogue),
                    )
                )
            elif ref == g.code:
                problems.append(
                    Problem(
                        g.rel,
                        g.line(fname, i),
                        f"{fname}[{i}]",
                        "a guide cannot refer to itself",
                        "another item's code",
                        "remove this entry",
                    )
                )
    return problems


def check_review_dates_not_future(g: GuideInLibrary) -> list[Problem]:
    """A guide was not compiled or verified in the future."""
    review = g.guide.review
    problems: list[Problem] = []
    for fname, value in (("compiled_on", review.compiled_on), ("verified_on", review.verified_on)):
        if value is not None and value > g.today:
            problems.append(
                Problem(
                    g.rel,
                    g.line("review", fname),
                    f"review.{fname}",
                    f"{value} is in the future",
                    f"a date up to {g.today}",
                    "write the day it really happened",
                )
            )
    return problems


def check_next_review_after_verified(g: GuideInLibrary) -> list[Problem]:
    """The next review of a verified guide comes after its verification."""
    review = g.guide.review
    if review.verified_on and review.next_review and review.next_review <= review.verified_on:
        return [
            Problem(
                g.rel,
                g.line("review", "next_review"),
                "review.next_review",
                f"{review.next_review} is not after verified_on {review.verified_on}",
                "a date after verified_on",
                "set when the guide should be checked again, e.g. a year after verified_on",
            )
        ]
    return []


def check_levels_have_halls(g: GuideInLibrary) -> list[Problem]:
    """Every hall level a guide sends residents to has a hall handling the item."""
    problems: list[Problem] = []
    if not g.halls:
        return problems
    for level in g.guide.where.levels:
        if not any(h.level == level and g.code in h.items for h in g.halls.values()):
            problems.append(
                Problem(
                    g.rel,
                    g.line("where", "levels"),
                    "where.levels",
                    f"no {level.value} hall in halls.yaml handles {g.code}",
                    f"a {level.value} hall listing {g.code}",
                    f"add {g.code} to the items of a {level.value} hall, or remove the level",
                )
            )
    return problems


def check_asks_unique_across_guides(g: GuideInLibrary) -> list[Problem]:
    """An ask is in one guide only (reported on every guide after the first that has it)."""
    problems: list[Problem] = []
    for i, ask in enumerate(g.guide.asks):
        owner = g.ask_owner[g.normalizer.key(ask)]
        if owner != g.code:
            problems.append(
                Problem(
                    g.rel,
                    g.line("asks", i),
                    f"asks[{i}]",
                    f"the ask {ask!r} is also in the guide {owner}",
                    "asks unique across all guides",
                    "reword it or keep it only in the guide it belongs to",
                )
            )
    return problems


GUIDE_RULES: list[Callable[[GuideInLibrary], list[Problem]]] = [
    check_code_in_catalogue,
    check_bundle_matches_catalogue,
    check_references,
    check_review_dates_not_future,
    check_next_review_after_verified,
    check_levels_have_halls,
    check_asks_unique_across_guides,
]


def check_catalogue_items_have_guides(
    guides: dict[str, Guide], catalogue: dict[str, CatalogueItem], root: Path
) -> list[Problem]:
    """Every catalogue item has a guide."""
    problems: list[Problem] = []
    for code in catalogue:
        if code not in guides and not (root / GUIDES_SUBDIR / f"{code}.yaml").exists():
            problems.append(
                Problem(
                    rel_path(root / GUIDES_SUBDIR / f"{code}.yaml", root),
                    None,
                    "(file)",
                    f"catalogue item {code} ({catalogue[code].name}) has no guide",
                    "one guide per catalogue item",
                    f"write guides/items/{code}.yaml",
                )
            )
    return problems


def check_guides(
    guides: dict[str, Guide],
    files: dict[str, Path],
    guide_lines: dict[str, Any],
    catalogue: dict[str, CatalogueItem],
    halls: dict[str, Hall],
    normalizer: Normalizer,
    root: Path,
    today: dt.date,
) -> list[Problem]:
    """The rules of ``GUIDE_RULES`` on every guide in turn, then every catalogue item has a guide."""
    problems: list[Problem] = []
    ask_owner: dict[str, str] = {}
    for code, guide in guides.items():
        for ask in guide.asks:
            ask_owner.setdefault(normalizer.key(ask), code)
    for code, guide in guides.items():
        g = GuideInLibrary(
            code,
            guide,
            rel_path(files[code], root),
            guide_lines[code],
            guides,
            catalogue,
            halls,
            today,
            ask_owner,
            normalizer,
        )
        for rule in GUIDE_RULES:
            problems.extend(rule(g))
    problems.extend(check_catalogue_items_have_guides(guides, catalogue, root))
    return problems


# ---------------------------------------------------------------- halls, plates, topics


def check_hall_code_unique(rel: str, lines: dict[Any, int], i: int, hall: Hall, before: list[Hall]) -> list[Problem]:
    """No two halls share a code (``before``: the halls above it in the file)."""
    if any(h.code == hall.code for h in before):
        return [
            Problem(
                rel,
                lines.get(("halls", i, "code")),
                f"halls[{i}].code",
                f"hall code {hall.code} appears twice",
                "unique codes",
                "give each hall its own code",
            )
        ]
    return []


def check_hall_items_known(
    rel: str, lines: dict[Any, int], i: int, hall: Hall, catalogue: dict[str, CatalogueItem]
) -> list[Problem]:
    """The items a hall handles are catalogue items."""
    problems: list[Problem] = []
    for j, code in enumerate(hall.items):
        if catalogue and code not in catalogue:
            problems.append(
                Problem(
                    rel,
                    lines.get(("halls", i, "items", j)),
                    f"halls[{i}].items[{j}]",
                    f"unknown item code {code!r}",
                    "a code from the catalogue",
                    suggest(code, catalogue),
                )
            )
    return problems


def check_plate_towns(plates: dict[str, Plate], halls: dict[str, Hall], rel: str) -> list[Problem]:
    """Every door plate's town has a service centre in halls.yaml."""
    problems: list[Problem] = []
    towns = {h.town for h in halls.values()}
    for plate in plates.values():
        if towns and plate.town not in towns:
            problems.append(
                Problem(
                    rel,
                    None,
                    f"plate {plate.code}.town",
                    f"town {plate.town!r} has no service centre in halls.yaml",
                    "a town named in halls.yaml",
                    "fix the town name",
                )
            )
    return problems


def check_topic_id_unique(
    rel: str, lines: dict[Any, int], i: int, topic: OutOfScopeTopic, seen: dict[str, OutOfScopeTopic]
) -> list[Problem]:
    """No two out-of-scope topics share an id."""
    if topic.id in seen:
        return [
            Problem(
                rel,
                lines.get(("topics", i, "id")),
                f"topics[{i}].id",
                f"topic id {topic.id} appears twice",
                "unique ids",
                "rename one",
            )
        ]
    return []


def check_out_of_scope_asks(
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


def check_topics(
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


# ---------------------------------------------------------------- batches of asks


def check_batch_location(f: BatchFile) -> Problem | None:
    """A batch file sits at guides/asks/<batch>/<item>.yaml, as its batch and item say."""
    batch, path = f.batch, f.path
    where = ("batch",) if batch.batch != path.parent.name else ("item",) if batch.item != path.stem else None
    if where is None:
        return None
    return Problem(
        f.rel,
        f.lines.get(where),
        where[0],
        f"the file says {where[0]} {getattr(batch, where[0])!r}",
        f"{path.parent.name if where[0] == 'batch' else path.stem} (the folder / file name)",
        "put the file in guides/asks/<batch>/<item>.yaml",
    )


def check_batch_item_has_guide(f: BatchFile, guides: dict[str, Guide]) -> Problem | None:
    """A batch's item has a guide."""
    if f.batch.item in guides:
        return None
    return Problem(
        f.rel, f.lines.get(("item",)), "item", f"no guide {f.batch.item!r}", "a guide's code", "fix the code"
    )


def check_ask_situation(f: BatchFile, i: int, situation: str | None, guide: Guide) -> Problem | None:
    """An ask labelled with a situation names one of its guide's situations."""
    situation_ids = {s.id for s in guide.situations}
    if situation is None or situation in situation_ids:
        return None
    return Problem(
        f.rel,
        line_for(f.lines, ("asks", i)),
        f"asks[{i}].situation",
        f"{f.batch.item} has no situation {situation!r}",
        ", ".join(sorted(situation_ids)),
        "use one of the guide's situation ids, or leave situation out",
    )


def check_ask_unique(
    f: BatchFile, i: int, q: str, seen: dict[str, AskRecord], normalizer: Normalizer
) -> Problem | None:
    """An ask of a batch is in no guide and no other batch (``seen``: the asks kept so far)."""
    other = seen.get(normalizer.key(q))
    if other is None:
        return None
    return Problem(
        f.rel,
        line_for(f.lines, ("asks", i)),
        f"asks[{i}]",
        f"the ask {q!r} is already in {other.item} (batch {other.batch})",
        "asks unique across all guides and batches",
        "reword it or remove it",
    )


def check_asks(
    root: Path, guides: dict[str, Guide], normalizer: Normalizer, problems: list[Problem]
) -> list[AskRecord]:
    """The guides' own asks, then the asks of every writer batch under guides/asks/<batch>/<item>.yaml
    that pass the batch rules (a file or an ask that breaks one is left out)."""
    records = [AskRecord(code, q, GUIDE_BATCH, GUIDE_BATCH) for code, g in sorted(guides.items()) for q in g.asks]
    seen = {normalizer.key(r.q): r for r in records}
    for path in ask_batch_files(root):
        f = load_ask_batch(path, root, problems)
        if f is None:
            continue
        problem = check_batch_location(f) or check_batch_item_has_guide(f, guides)
        if problem is not None:
            problems.append(problem)
            continue
        guide = guides[f.batch.item]
        for i, ask in enumerate(f.batch.asks):
            problem = check_ask_situation(f, i, ask.situation, guide) or check_ask_unique(f, i, ask.q, seen, normalizer)
            if problem is not None:
                problems.append(problem)
                continue
            record = AskRecord(f.batch.item, ask.q, f.batch.batch, ask.style, ask.situation)
            seen[normalizer.key(ask.q)] = record
            records.append(record)
    return records


def check_faq_asks(root: Path, guides: dict[str, Guide], problems: list[Problem]) -> list[FaqAskRecord]:
    """The writers' follow-ups labelled with the FAQ they ask (guides/faq_asks/<writer>/<item>.yaml):
    the file in its writer's folder, for an item with a guide, every label one of its FAQs."""
    records: list[FaqAskRecord] = []
    for path in sorted((root / FAQ_ASKS_DIR).glob("*/*.yaml")):
        rel = rel_path(path, root)
        data, lines = read_yaml(path, rel, problems)
        f = validate(FaqAskFile, data, rel, lines, problems) if data is not None else None
        if f is None:
            continue
        guide = guides.get(f.item)
        if f.writer != path.parent.name or f.item != path.stem or guide is None:
            problems.append(
                Problem(
                    rel,
                    line_for(lines, ("item",)),
                    "item",
                    f"{rel} is for item {f.item!r} by writer {f.writer!r}",
                    f"guides/{FAQ_ASKS_DIR}/<writer>/<item>.yaml for an item with a guide",
                    f"move it to guides/{FAQ_ASKS_DIR}/{f.writer}/{f.item}.yaml, or write the guide first",
                )
            )
            continue
        questions = [q.q for q in guide.faqs]
        for i, ask in enumerate(f.asks):
            if ask.faq is not None and ask.faq not in questions:
                problems.append(
                    Problem(
                        rel,
                        line_for(lines, ("asks", i, "faq")),
                        f"asks[{i}].faq",
                        f"{ask.faq!r} is not one of {f.item}'s common questions",
                        "one of: " + " / ".join(questions),
                        "copy the FAQ's q exactly, or write null",
                    )
                )
                continue
            records.append(FaqAskRecord(f.item, ask.q, f.writer, ask.style, ask.faq))
    return records


def check_guide_against_batches(guide: Guide, lib: Library, rel: str, lines: dict[Any, int]) -> list[Problem]:
    """The batch rules seen from an edited guide: labelled situations it keeps, asks no batch has."""
    problems: list[Problem] = []
    situation_ids = {s.id for s in guide.situations}
    for sid in sorted({a.situation for a in lib.asks_of(guide.code) if a.situation} - situation_ids):
        batches = sorted({a.batch for a in lib.asks_of(guide.code) if a.situation == sid})
        problems.append(
            Problem(
                rel,
                line_for(lines, ("situations",)),
                "situations",
                f"asks in {', '.join(f'guides/{ASKS_DIR}/{b}/{guide.code}.yaml' for b in batches)} "
                f"are labelled with the situation {sid!r}, which this guide no longer has",
                ", ".join(sorted(situation_ids)),
                f"keep a situation with id: {sid}, or relabel those asks first",
            )
        )
    questions = {f.q for f in guide.faqs}
    for faq in sorted({a.faq for a in lib.faq_asks if a.item == guide.code and a.faq} - questions):
        writers = sorted({a.writer for a in lib.faq_asks if a.item == guide.code and a.faq == faq})
        problems.append(
            Problem(
                rel,
                line_for(lines, ("faqs",)),
                "faqs",
                f"follow-ups in {', '.join(f'guides/{FAQ_ASKS_DIR}/{w}/{guide.code}.yaml' for w in writers)} "
                f"are labelled with the common question {faq!r}, which this guide no longer has",
                "keep the question's wording",
                "keep it, or relabel those follow-ups first",
            )
        )
    batch_keys = {lib.normalizer.key(a.q): a for a in lib.asks if a.batch != GUIDE_BATCH}
    for i, ask in enumerate(guide.asks):
        other = batch_keys.get(lib.normalizer.key(ask))
        if other is not None:
            problems.append(
                Problem(
                    rel,
                    line_for(lines, ("asks", i)),
                    f"asks[{i}]",
                    f"the ask {ask!r} is already in {other.item} (batch {other.batch})",
                    "asks unique across all guides and batches",
                    "reword it or remove it",
                )
            )
    return problems


# ---------------------------------------------------------------- the whole library


@dataclass
class Draft:
    """The library being loaded: what the steps so far have loaded."""

    root: Path
    catalogue_path: Path
    today: dt.date
    catalogue: dict[str, CatalogueItem] = field(default_factory=dict)
    normalizer: Normalizer = field(default_factory=Normalizer)
    guides: dict[str, Guide] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    guide_lines: dict[str, dict[Any, int]] = field(default_factory=dict)
    halls: dict[str, Hall] = field(default_factory=dict)
    holidays: list[Holiday] = field(default_factory=list)
    plates: dict[str, Plate] = field(default_factory=dict)
    out_of_scope: dict[str, OutOfScopeTopic] = field(default_factory=dict)
    asks: list[AskRecord] = field(default_factory=list)
    faq_asks: list[FaqAskRecord] = field(default_factory=list)
    referrals: dict[str, Referral] = field(default_factory=dict)
    lookups: dict[str, Lookup] = field(default_factory=dict)
    slots: SlotsFile = field(default_factory=SlotsFile)


def _catalogue_step(d: Draft, problems: list[Problem]) -> None:
    d.catalogue = load_catalogue(d.catalogue_path, problems)


def _aliases_step(d: Draft, problems: list[Problem]) -> None:
    d.normalizer = load_aliases(d.root, problems)


def _guides_step(d: Draft, problems: list[Problem]) -> None:
    for path in guide_files(d.root, problems):
        loaded = load_guide(path, rel_path(path, d.root), d.catalogue, problems)
        if loaded is None:
            continue
        if (problem := check_file_name(loaded.guide, path, loaded.rel, loaded.lines)) is not None:
            problems.append(problem)
        if (problem := check_one_guide_per_item(loaded, d.files, d.root)) is not None:
            problems.append(problem)
            continue
        d.guides[loaded.guide.code] = loaded.guide
        d.files[loaded.guide.code] = path
        d.guide_lines[loaded.guide.code] = loaded.lines


def _halls_step(d: Draft, problems: list[Problem]) -> None:
    loaded = load_halls(d.root, problems)
    if loaded is None:
        return
    d.holidays = list(loaded.model.holidays)
    for i, hall in enumerate(loaded.model.halls):
        problems.extend(check_hall_code_unique(loaded.rel, loaded.lines, i, hall, loaded.model.halls[:i]))
        d.halls[hall.code] = hall
        problems.extend(check_hall_items_known(loaded.rel, loaded.lines, i, hall, d.catalogue))


def check_slots(rel: str, lines: dict[Any, int], slots: SlotsFile, halls: dict[str, Hall]) -> list[Problem]:
    """Every hall named exists, and handles every item its groups offer; group ids are unique per hall."""
    problems: list[Problem] = []
    for i, entry in enumerate(slots.halls):
        if entry.hall is not None and entry.hall not in halls:
            problems.append(
                Problem(
                    rel,
                    lines.get(("halls", i, "hall")),
                    f"halls[{i}].hall",
                    f"unknown hall {entry.hall!r}",
                    "a hall code from halls.yaml",
                    suggest(entry.hall, halls),
                )
            )
            continue
        targets = [halls[entry.hall]] if entry.hall else [h for h in halls.values() if h.level is entry.level]
        seen: set[str] = set()
        for j, group in enumerate(entry.groups):
            if group.id in seen:
                problems.append(
                    Problem(
                        rel,
                        lines.get(("halls", i, "groups", j, "id")),
                        f"halls[{i}].groups[{j}].id",
                        f"group {group.id!r} appears twice",
                        "one entry per item group",
                        "merge the two groups",
                    )
                )
            seen.add(group.id)
            for k, item in enumerate(group.items):
                missing = [h.code for h in targets if item not in h.items]
                if missing:
                    problems.append(
                        Problem(
                            rel,
                            lines.get(("halls", i, "groups", j, "items", k)),
                            f"halls[{i}].groups[{j}].items[{k}]",
                            f"{', '.join(missing[:3])} do(es) not handle {item!r}",
                            "an item the hall lists in halls.yaml",
                            "add the item to the hall, or remove it here",
                        )
                    )
    return problems


def _slots_step(d: Draft, problems: list[Problem]) -> None:
    loaded = load_slots(d.root, problems)
    if loaded is None:
        return
    d.slots = loaded.model
    problems.extend(check_slots(loaded.rel, loaded.lines, loaded.model, d.halls))


def _plates_step(d: Draft, problems: list[Problem]) -> None:
    plates = load_plates(d.root, problems)
    if plates is not None:
        d.plates = plates
        problems.extend(check_plate_towns(plates, d.halls, rel_path(d.root / PLATES_FILE, d.root)))


def _out_of_scope_step(d: Draft, problems: list[Problem]) -> None:
    loaded = load_out_of_scope(d.root, problems)
    if loaded is None:
        return
    for i, topic in enumerate(loaded.model.topics):
        problems.extend(check_topic_id_unique(loaded.rel, loaded.lines, i, topic, d.out_of_scope))
        d.out_of_scope[topic.id] = topic


def _guide_rules_step(d: Draft, problems: list[Problem]) -> None:
    problems.extend(check_guides(d.guides, d.files, d.guide_lines, d.catalogue, d.halls, d.normalizer, d.root, d.today))


def _asks_step(d: Draft, problems: list[Problem]) -> None:
    d.asks = check_asks(d.root, d.guides, d.normalizer, problems)


def _faq_asks_step(d: Draft, problems: list[Problem]) -> None:
    d.faq_asks = check_faq_asks(d.root, d.guides, problems)


def _referrals_and_lookups_step(d: Draft, problems: list[Problem]) -> None:
    d.referrals = load_named(d.root / REFERRALS_DIR, "*.yaml", ReferralFile, "referrals", d.root, problems)
    d.lookups = load_named(d.root, LOOKUPS_FILE, LookupFile, "lookups", d.root, problems)


def _topic_rules_step(d: Draft, problems: list[Problem]) -> None:
    problems.extend(check_topics(d.asks, d.referrals, d.lookups, d.out_of_scope, d.catalogue, d.normalizer))
    oos_rel = rel_path(d.root / OUT_OF_SCOPE_FILE, d.root)
    problems.extend(check_out_of_scope_asks(d.guides, d.out_of_scope, d.normalizer, oos_rel))


# In this order: a step may read what the steps before it loaded.
LIBRARY_STEPS: list[Callable[[Draft, list[Problem]], None]] = [
    _catalogue_step,
    _aliases_step,
    _guides_step,
    _halls_step,
    _plates_step,
    _slots_step,
    _out_of_scope_step,
    _guide_rules_step,
    _asks_step,
    _faq_asks_step,
    _referrals_and_lookups_step,
    _topic_rules_step,
]


def check_library(
    root: Path, catalogue_path: Path | None = None, today: dt.date | None = None
) -> tuple[Library | None, list[Problem]]:
    """Load everything under root and cross-check it.

    Returns:
        The library (None when anything is wrong) and the full list of problems.
    """
    root = Path(root)
    catalogue_path = catalogue_path or root / CATALOGUE_FILE
    draft = Draft(root, catalogue_path, today or dt.date.today())
    problems: list[Problem] = []
    for step in LIBRARY_STEPS:
        step(draft, problems)
    if problems:
        return None, problems
    lib = Library(
        root=root,
        catalogue=draft.catalogue,
        guides=draft.guides,
        halls=draft.halls,
        holidays=draft.holidays,
        plates=draft.plates,
        normalizer=draft.normalizer,
        content_hash=content_hash(root, catalogue_path),
        files=draft.files,
        out_of_scope=draft.out_of_scope,
        asks=draft.asks,
        faq_asks=draft.faq_asks,
        referrals=draft.referrals,
        lookups=draft.lookups,
        slots=draft.slots,
    )
    return lib, []


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
    rel = rel_path(path, lib.root)
    problems: list[Problem] = []
    data, lines = parse_yaml(text, rel, problems)
    guide = guide_of(data, lines, rel, lib.catalogue, problems)
    if guide is None:
        return None, problems
    misnamed = check_file_name(guide, path, rel, lines, f"keep code: {code} (a guide cannot change its code here)")
    if misnamed is not None:
        return None, [*problems, misnamed]
    # The edited guide goes last, so a clash with another guide is reported on it.
    guides = {c: g for c, g in lib.guides.items() if c != code}
    guides[code] = guide
    files = {**lib.files, code: path}
    guide_lines: dict[str, dict[Any, int]] = {c: {} for c in guides}
    guide_lines[code] = lines
    problems.extend(check_guides(guides, files, guide_lines, lib.catalogue, lib.halls, lib.normalizer, lib.root, today))
    problems.extend(check_guide_against_batches(guide, lib, rel, lines))
    asks = [a for a in lib.asks if a.item != code or a.batch != GUIDE_BATCH]
    asks += [AskRecord(code, q, GUIDE_BATCH, GUIDE_BATCH) for q in guide.asks]
    problems.extend(check_topics(asks, lib.referrals, lib.lookups, lib.out_of_scope, lib.catalogue, lib.normalizer))
    oos_rel = rel_path(lib.root / OUT_OF_SCOPE_FILE, lib.root)
    problems.extend(check_out_of_scope_asks({code: guide}, lib.out_of_scope, lib.normalizer, oos_rel))
    return (None if problems else guide), problems


def load_library(root: Path, catalogue_path: Path | None = None) -> Library:
    """Load the library or raise ContentError listing every problem."""
    lib, problems = check_library(root, catalogue_path)
    if lib is None:
        raise ContentError(problems)
    logger.info(
        "guide library loaded: %d guides, %d halls, %d plates", len(lib.guides), len(lib.halls), len(lib.plates)
    )
    return lib
