"""The `menpai` command: guides check, index build, ask, eval, plates, serve.

Entry point only: logging is configured here, the work lives in the packages.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from knowledge.errors import MenpaiError
from knowledge.settings import FaissKind, Settings

logger = logging.getLogger("menpai")


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, object] = {}
    if getattr(args, "embedder", None):
        overrides["embedder"] = args.embedder
    if getattr(args, "faiss", None):
        overrides["faiss_index"] = FaissKind(args.faiss)
    return Settings(**overrides)  # type: ignore[arg-type]


def cmd_guides_check(args: argparse.Namespace) -> int:
    from knowledge.library import check_library

    settings = Settings()
    root = Path(args.path) if args.path else settings.guides_path
    catalogue = (
        Path(args.catalogue) if args.catalogue else (settings.catalogue if not args.path else root / "catalogue.yaml")
    )
    lib, problems = check_library(root, catalogue)
    if problems:
        for p in problems:
            sys.stdout.write(f"{p}\n")
        sys.stdout.write(f"\n{len(problems)} problem(s) found in {root}. Nothing was changed.\n")
        return 1
    assert lib is not None
    n_sit = sum(len(g.situations) for g in lib.guides.values())
    n_mat = sum(len(s.materials) for g in lib.guides.values() for s in g.situations)
    per_guide = sorted(len(lib.asks_of(code)) or len(g.asks) for code, g in lib.guides.items())
    n_ask = sum(per_guide)
    batches = sorted({a.batch for a in lib.asks})
    verified = sum(g.review.status == "verified" for g in lib.guides.values())
    n_faq = sum(len(g.faqs) for g in lib.guides.values())
    levels: dict[str, int] = {}
    for h in lib.halls.values():
        levels[h.level.value] = levels.get(h.level.value, 0) + 1
    sys.stdout.write(
        f"ok: {len(lib.guides)} guides ({sum(g.bundle for g in lib.guides.values())} bundles), "
        f"{n_sit} situations, {n_mat} materials, {n_ask} asks in {len(batches)} batches "
        f"(per guide min {per_guide[0]}, median {per_guide[len(per_guide) // 2]}), {n_faq} questions with answers; "
        f"{verified} verified, {len(lib.guides) - verified} draft; "
        f"{len(lib.referrals)} referral entries, {len(lib.lookups)} look-ups, {len(lib.out_of_scope)} out-of-scope topics; "
        f"{len(lib.halls)} halls ({', '.join(f'{k} {v}' for k, v in sorted(levels.items()))}); "
        f"{len(lib.plates)} door plates; catalogue {len(lib.catalogue)} items, all covered\n"
    )
    return 0


def _guide_editor(settings: Settings) -> Any:
    """The guides as published: files in guides/ with the database's versions applied."""
    from knowledge.library import load_library
    from web.helpdesk.editor import GuideEditor

    editor = GuideEditor(_store(settings), load_library(settings.guides_path, settings.catalogue))
    editor.refresh()
    return editor


def _guide_folder(path: Path) -> Path:
    return path / "items" if (path / "items").is_dir() else path


def cmd_guides_export(args: argparse.Namespace) -> int:
    from web.helpdesk.editor import export_guides

    out = Path(args.dir)
    written = export_guides(_guide_editor(Settings()), out)
    published = sum(1 for _, version in written if version)
    sys.stdout.write(
        f"wrote {len(written)} guides to {out}: {published} published in the database, "
        f"{len(written) - published} as their files in guides/\n"
    )
    return 0


def cmd_guides_import(args: argparse.Namespace) -> int:
    from web.helpdesk.editor import import_guides

    editor = _guide_editor(Settings())
    author_id = None
    if args.author:
        staff = editor.store.staff.by_username(args.author)
        if staff is None:
            sys.stderr.write(f"error: no staff account {args.author!r}\n")
            return 1
        author_id = staff.id
    folder = _guide_folder(Path(args.dir))
    if not any(folder.glob("*.yaml")):
        sys.stderr.write(f"error: no <code>.yaml guides in {folder}\n")
        return 1
    result = import_guides(editor, folder, author_id=author_id)
    for outcome in result.published:
        sys.stdout.write(f"published {outcome.code} version {outcome.version}\n")
    for code, problems in sorted(result.refused.items()):
        sys.stdout.write(f"refused {code}:\n")
        for p in problems:
            sys.stdout.write(f"  {p}\n")
    sys.stdout.write(
        f"{len(result.published)} published, {len(result.unchanged)} unchanged, {len(result.refused)} refused\n"
    )
    return 1 if result.refused else 0


def cmd_index_build(args: argparse.Namespace) -> int:
    from knowledge.index import build_index
    from knowledge.library import load_library

    settings = _settings(args)
    lib = load_library(settings.guides_path, settings.catalogue)
    manifest = build_index(
        lib,
        Path(args.out) if args.out else settings.index_path,
        settings.embedder,
        settings.base_model,
        settings.faiss_index,
        settings.domain_epochs,
    )
    sys.stdout.write(
        f"index built: {manifest.entries} entries, embedder {manifest.embedder}, "
        f"faiss {manifest.faiss}, {manifest.build_seconds}s\n"
    )
    return 0


def cmd_index_calibrate(args: argparse.Namespace) -> int:
    from knowledge.index import calibrate_index, read_manifest
    from knowledge.library import load_library

    settings = Settings()
    lib = load_library(settings.guides_path, settings.catalogue)
    manifest = read_manifest(settings.index_path)
    if manifest is None or manifest.guides_hash != lib.content_hash:
        sys.stderr.write("error: the index is missing or stale; run: menpai index build\n")
        return 1
    result = calibrate_index(settings.index_path, lib, manifest)
    sys.stdout.write(json.dumps(result, indent=2) + "\n")
    return 0


def cmd_index_status(args: argparse.Namespace) -> int:
    from knowledge.index import read_manifest
    from knowledge.library import content_hash

    settings = Settings()
    manifest = read_manifest(settings.index_path)
    current = content_hash(settings.guides_path, settings.catalogue)
    if manifest is None:
        sys.stdout.write("missing\n")
        return 1
    fresh = manifest.guides_hash == current
    sys.stdout.write(("fresh" if fresh else "stale") + f" {manifest.guides_hash} {manifest.embedder}\n")
    return 0 if fresh else 1


def cmd_ask(args: argparse.Namespace) -> int:
    from knowledge.answer import render_text
    from knowledge.service import KnowledgeBase

    kb = KnowledgeBase.open(Settings())
    result = kb.ask(args.question, plate=args.plate)
    if args.json:
        sys.stdout.write(json.dumps(result.to_json(), ensure_ascii=False, indent=2, default=str) + "\n")
        return 0
    if result.answer is None and result.retrieval.declined_topic:
        from web.chat import referral_text

        sys.stdout.write(referral_text(kb.library, result.retrieval.declined_topic) + "\n")
        return 0
    if result.answer is None:
        tops = "、".join(kb.library.guides[c.item].title for c in result.retrieval.candidates[:3])
        sys.stdout.write(
            f"没有找到把握的答案（置信度 {result.retrieval.confidence:.2f}，低于 "
            f"{kb.retriever.config.abstain_threshold}）。"
            + (f"可能相关：{tops}。" if tops else "")
            + "可以换个说法，或拨打12345找人工。\n"
        )
        return 0
    sys.stdout.write(render_text(result.answer) + "\n")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from knowledge.evaluate import load_eval_set, report, summary, write_json
    from knowledge.service import KnowledgeBase

    path = Path(args.file)
    if not path.exists():
        sys.stderr.write(f"error: no question set at {path}\n")
        return 1
    kb = KnowledgeBase.open(Settings())  # the model and index load once per run
    rep = report(kb, load_eval_set(path), args.parts.split(","))
    if args.out:
        write_json(rep, Path(args.out))
    if args.json:
        sys.stdout.write(json.dumps(rep, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(summary(rep) + "\n")
    return 0


def cmd_eval_cv(args: argparse.Namespace) -> int:
    from knowledge.crossval import cross_validate
    from knowledge.library import load_library

    settings = Settings()
    lib = load_library(settings.guides_path, settings.catalogue)
    from knowledge.retrieval import RetrieverConfig

    config = RetrieverConfig(**({"item_decay": args.decay} if args.decay is not None else {}))
    rep = cross_validate(
        lib,
        kinds=args.kinds.split(","),
        embedder=settings.embedder,
        epochs=args.epochs,
        shipped_threshold=settings.abstain_threshold,
        work=Path(args.work) if args.work else None,
        config=config,
    )
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(rep, ensure_ascii=False, indent=2), encoding="utf-8")
    if args.json:
        sys.stdout.write(json.dumps(rep, ensure_ascii=False) + "\n")
        return 0
    sys.stdout.write(f"threshold chosen on the folds: {rep['chosen_threshold']} ({rep['policy']})\n")
    sys.stdout.write("fold                  n_in  n_out  hit@1  hit@3  abstain_R  false_abstain\n")
    for name, m in [*rep["by_fold"].items(), ("POOLED", rep["pooled"])]:
        sys.stdout.write(
            f"{name:<20} {m['n_in_scope']:>5} {m['n_not_a_guide']:>6}  {m['hit_at_1']:.3f}  {m['hit_at_3']:.3f}"
            f"  {m['abstain_recall']:.3f}      {m['false_abstain_rate']:.3f}\n"
        )
    sys.stdout.write(
        "by style (hit@1): "
        + ", ".join(f"{s} {v['hit_at_1']:.2f} (n={v['n']})" for s, v in rep["pooled"]["by_style"].items())
        + "\n"
    )
    return 0


def cmd_eval_chat(args: argparse.Namespace) -> int:
    from web.evalchat import eval_chat_file

    path = Path(args.file)
    if not path.exists():
        sys.stderr.write(f"error: no dialogue file at {path}\n")
        return 1
    rep = eval_chat_file(path, args.base)
    if args.json:
        sys.stdout.write(json.dumps(rep.to_json(with_transcripts=args.transcripts), ensure_ascii=False) + "\n")
        return 0
    for f in rep.failures:
        sys.stdout.write(f"FAIL {f['dialogue']}[{f['turn']}] {f['said']}: {'; '.join(f['problems'])}\n")
    out = rep.to_json()
    sys.stdout.write(
        f"dialogues {rep.dialogues_passed}/{rep.dialogues} passed; "
        f"turns {rep.turns_passed}/{rep.turns} ({out['turn_pass_rate']:.3f})\n"
    )
    return 0


def cmd_plates_make(args: argparse.Namespace) -> int:
    from web.plates import make_plates

    settings = Settings()
    out = make_plates(settings, Path(args.out), fmt=args.format, town=args.town, limit=args.limit)
    sys.stdout.write(f"wrote {out}\n")
    return 0


def _store(settings: Settings) -> Any:
    from web.db.engine import make_engine
    from web.db.store import Store

    store = Store(make_engine(settings.db_url))
    store.migrate()
    return store


def cmd_staff_add(args: argparse.Namespace) -> int:
    import getpass
    import os

    from web.db.tables import StaffRole
    from web.helpdesk.auth import hash_password

    store = _store(Settings())
    password = os.environ.get("MENPAI_STAFF_PASSWORD") or getpass.getpass(f"password for {args.username}: ")
    try:
        hashed = hash_password(password)
    except ValueError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    if store.staff.by_username(args.username):
        sys.stderr.write(f"error: staff {args.username!r} exists already\n")
        return 1
    store.staff.add(args.username, args.name or args.username, StaffRole(args.role), hashed)
    sys.stdout.write(f"added {args.role} {args.username}\n")
    return 0


def cmd_staff_demo(args: argparse.Namespace) -> int:
    """Demo accounts with random passwords, kept in var/demo-staff.txt (never in code)."""
    import secrets

    from web.db.tables import StaffRole
    from web.helpdesk.auth import hash_password

    settings = Settings()
    store = _store(settings)
    path = settings.var_path / "demo-staff.txt"
    if not path.exists():
        lines = []
        for username, name, role in [
            ("agent", "小林（坐席）", StaffRole.AGENT),
            ("chief", "陈科长（值班长）", StaffRole.SUPERVISOR),
        ]:
            password = secrets.token_urlsafe(12)
            if store.staff.by_username(username) is None:
                store.staff.add(username, name, role, hash_password(password))
                lines.append(f"{username} {password}")
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        path.chmod(0o600)
    sys.stdout.write("staff console http://127.0.0.1:8000/staff — demo logins (user password):\n")
    sys.stdout.write(path.read_text(encoding="utf-8"))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from web.app import create_app

    settings = Settings()
    uvicorn.run(
        create_app(settings),
        host=args.host or settings.host,
        port=args.port or settings.port,
        log_level="info",
        access_log=settings.access_log,
        timeout_keep_alive=75,  # as nginx: phones on slow links reuse their connection
        timeout_graceful_shutdown=3,  # held long polls are cut on shutdown; the widget asks again
        proxy_headers=False,
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="menpai", description="数字政务门牌 tools")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    guides = sub.add_parser("guides", help="the guide library").add_subparsers(dest="sub", required=True)
    check = guides.add_parser("check", help="validate guides, halls, plates and cross-references")
    check.add_argument("path", nargs="?", help="guides folder (default: settings)")
    check.add_argument("--catalogue", help="catalogue file (default: <path>/catalogue.yaml)")
    check.set_defaults(func=cmd_guides_check)
    export = guides.add_parser("export", help="write the published guides (database version, else file) as YAML")
    export.add_argument("dir", help="folder to write <code>.yaml files into")
    export.set_defaults(func=cmd_guides_export)
    imp = guides.add_parser("import", help="publish a folder of guide YAMLs as new versions (validated)")
    imp.add_argument("dir", help="folder of <code>.yaml files (or a guides folder with items/)")
    imp.add_argument("--author", help="staff username to record as the author")
    imp.set_defaults(func=cmd_guides_import)

    index = sub.add_parser("index", help="the semantic index").add_subparsers(dest="sub", required=True)
    build = index.add_parser("build", help="build var/index from the guides")
    build.add_argument("--embedder", help="'domain', a hub name or a local model path")
    build.add_argument("--faiss", choices=[k.value for k in FaissKind])
    build.add_argument("--out", help="output folder (default: var/index)")
    build.set_defaults(func=cmd_index_build)
    calibrate = index.add_parser("calibrate", help="refit the confidence calibration of the current index")
    calibrate.set_defaults(func=cmd_index_calibrate)
    status = index.add_parser("status", help="fresh / stale / missing (exit 1 unless fresh)")
    status.set_defaults(func=cmd_index_status)

    ask = sub.add_parser("ask", help="answer a question from the guides")
    ask.add_argument("question")
    ask.add_argument("--plate", help="door-plate code, for the nearest halls")
    ask.add_argument("--json", action="store_true")
    ask.set_defaults(func=cmd_ask)

    ev = sub.add_parser("eval", help="accuracy of retrieval on a question set (YAML like ../shared/eval/dev.yaml)")
    ev.add_argument("file", nargs="?", default=str(Path(__file__).resolve().parents[2] / "shared/eval/dev.yaml"))
    ev.add_argument("--json", action="store_true", help="print the whole report as one JSON object")
    ev.add_argument("--parts", default="lexical,dense,hybrid")
    ev.add_argument("--out", help="also write the JSON report here")
    ev.set_defaults(func=cmd_eval)

    cv = sub.add_parser(
        "eval-cv", help="cross-validate retrieval on our own asks (held out by writer batch and by style)"
    )
    cv.add_argument("--kinds", default="batch,style", help="fold kinds: batch, style or both")
    cv.add_argument("--epochs", type=int, help="dense training epochs per fold (default: as the index)")
    cv.add_argument("--json", action="store_true")
    cv.add_argument("--out", help="also write the JSON report here")
    cv.add_argument("--work", help="keep the fold indexes here and reuse them when their content is unchanged")
    cv.add_argument("--decay", type=float, help="RetrieverConfig.item_decay to measure (default: the shipped one)")
    cv.set_defaults(func=cmd_eval_cv)

    ec = sub.add_parser("eval-chat", help="drive conversations (YAML like ../shared/eval/dialogues.yaml) via /api/chat")
    ec.add_argument("file")
    ec.add_argument("--base", default="http://127.0.0.1:8000", help="a running web")
    ec.add_argument("--json", action="store_true")
    ec.add_argument("--transcripts", action="store_true", help="with --json: every turn's question and reply")
    ec.set_defaults(func=cmd_eval_chat)

    plates = sub.add_parser("plates", help="door plates").add_subparsers(dest="sub", required=True)
    make = plates.add_parser("make", help="print-ready door plates with QR codes")
    make.add_argument("--town")
    make.add_argument("--format", choices=["pdf", "svg", "png"], default="pdf")
    make.add_argument("--limit", type=int)
    make.add_argument("--out", required=True)
    make.set_defaults(func=cmd_plates_make)

    staff = sub.add_parser("staff", help="help-desk staff accounts").add_subparsers(dest="sub", required=True)
    add = staff.add_parser("add", help="add a staff account (password from MENPAI_STAFF_PASSWORD or a prompt)")
    add.add_argument("username")
    add.add_argument("--name")
    add.add_argument("--role", choices=["agent", "supervisor", "hotline", "editor"], default="agent")
    add.set_defaults(func=cmd_staff_add)
    demo = staff.add_parser("demo", help="create demo accounts with random passwords (var/demo-staff.txt)")
    demo.set_defaults(func=cmd_staff_demo)

    serve = sub.add_parser("serve", help="run the web app")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(func=cmd_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args))
    except MenpaiError as exc:
        problems = getattr(exc, "problems", None)
        if problems:
            for p in problems:
                sys.stderr.write(f"{p}\n")
        sys.stderr.write(f"error: {exc}\n")
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
