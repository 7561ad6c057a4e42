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
    n_ask = sum(len(g.asks) for g in lib.guides.values())
    n_faq = sum(len(g.faqs) for g in lib.guides.values())
    levels: dict[str, int] = {}
    for h in lib.halls.values():
        levels[h.level.value] = levels.get(h.level.value, 0) + 1
    sys.stdout.write(
        f"ok: {len(lib.guides)} guides ({sum(g.bundle for g in lib.guides.values())} bundles), "
        f"{n_sit} situations, {n_mat} materials, {n_ask} asks, {n_faq} questions with answers; "
        f"{len(lib.halls)} halls ({', '.join(f'{k} {v}' for k, v in sorted(levels.items()))}); "
        f"{len(lib.plates)} door plates; catalogue {len(lib.catalogue)} items, all covered\n"
    )
    return 0


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
        topic = kb.library.out_of_scope[result.retrieval.declined_topic]
        sys.stdout.write(f"这件事（{topic.name}）不在办事攻略里。{topic.refer}\n")
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


def cmd_plates_make(args: argparse.Namespace) -> int:
    from web.plates import make_plates

    settings = Settings()
    out = make_plates(settings, Path(args.out), fmt=args.format, town=args.town, limit=args.limit)
    sys.stdout.write(f"wrote {out}\n")
    return 0


def _store(settings: Settings) -> Any:
    from web.storage import Store, make_engine

    store = Store(make_engine(settings.db_url))
    store.migrate()
    return store


def cmd_staff_add(args: argparse.Namespace) -> int:
    import getpass
    import os

    from web.auth import hash_password
    from web.storage import StaffRole

    store = _store(Settings())
    password = os.environ.get("MENPAI_STAFF_PASSWORD") or getpass.getpass(f"password for {args.username}: ")
    try:
        hashed = hash_password(password)
    except ValueError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    if store.staff_by_username(args.username):
        sys.stderr.write(f"error: staff {args.username!r} exists already\n")
        return 1
    store.add_staff(args.username, args.name or args.username, StaffRole(args.role), hashed)
    sys.stdout.write(f"added {args.role} {args.username}\n")
    return 0


def cmd_staff_demo(args: argparse.Namespace) -> int:
    """Demo accounts with random passwords, kept in var/demo-staff.txt (never in code)."""
    import secrets

    from web.auth import hash_password
    from web.storage import StaffRole

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
            if store.staff_by_username(username) is None:
                store.add_staff(username, name, role, hash_password(password))
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
    add.add_argument("--role", choices=["agent", "supervisor", "hotline"], default="agent")
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
