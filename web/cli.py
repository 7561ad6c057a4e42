"""The `menpai` command (the root): knowledge registers its subcommands; web adds ask, guides
export/import, eval-chat, plates, staff and serve.

Entry point only: logging is configured here, the work lives in the packages.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from knowledge import cli as knowledge_cli
from knowledge.errors import MenpaiError
from knowledge.settings import Settings, write_private
from web.security import quiet_http_client_logs

logger = logging.getLogger("menpai")


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


def cmd_ask(args: argparse.Namespace) -> int:
    from knowledge.service import KnowledgeBase
    from web.render.plain import render_text

    kb = KnowledgeBase.open(Settings())
    result = kb.ask(args.question, plate=args.plate)
    if args.json:
        sys.stdout.write(json.dumps(result.to_json(), ensure_ascii=False, indent=2, default=str) + "\n")
        return 0
    if result.answer is None and result.retrieval.declined_topic:
        from web.render.sentences import referral_text

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


def cmd_eval_chat(args: argparse.Namespace) -> int:
    from web.chat.evalchat import eval_chat_file

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
    bars: list[Any] = []

    def progress(total: int) -> Callable[[int], None]:
        from tqdm import tqdm

        bar = tqdm(total=total, unit="plate", desc="plates", disable=args.quiet, mininterval=0.5)
        bars.append(bar)
        return bar.update

    try:
        out = make_plates(
            settings,
            Path(args.out),
            fmt=args.format,
            town=args.town,
            limit=args.limit,
            plates_file=Path(args.plates) if args.plates else None,
            progress=progress,
        )
    finally:
        for bar in bars:
            bar.close()
    sys.stdout.write(f"wrote {out}\n")
    return 0


def _store(settings: Settings) -> Any:
    from web.db.engine import make_engine
    from web.db.store import Store

    engine = make_engine(
        settings.db_url, connect_timeout=settings.db_connect_timeout, statement_timeout=settings.db_statement_timeout
    )
    store = Store(engine, uploads=settings.var_path / "uploads", upload_retention_days=settings.upload_retention_days)
    store.migrate()
    return store


def _operator() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def cmd_transcript(args: argparse.Namespace) -> int:
    """The stored messages of one conversation; the view goes to the audit log."""
    from web.helpdesk.audit import Audited, record_operator
    from web.helpdesk.chats import stored_transcript

    store = _store(Settings())
    rows = stored_transcript(store, args.session)
    record_operator(store, _operator(), Audited.TRANSCRIPT_CLI, args.session)
    if args.json:
        sys.stdout.write(json.dumps({"session": args.session, "messages": rows}, ensure_ascii=False, indent=2) + "\n")
        return 0
    for r in rows:
        sys.stdout.write(f"{r['at']}  {r['role']:<8} {r['kind']:<8} {r['text']}\n")
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    """Delete what is past its retention (MENPAI_RETENTION_*); print the counts."""
    from web.helpdesk.retention import Retention

    settings = Settings()
    purged = Retention(_store(settings), settings).purge(dry_run=args.dry_run)
    verb = "would delete" if args.dry_run else "deleted"
    for name, count in purged.counts.items():
        sys.stdout.write(f"{name:<20} {count:>8}  {verb}\n")
    return 0


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


def cmd_staff_password(args: argparse.Namespace) -> int:
    """Set a new password (at least 12 characters); every session of the account ends."""
    import getpass
    import os

    from web.helpdesk.auth import hash_password

    store = _store(Settings())
    staff = store.staff.by_username(args.username)
    if staff is None:
        sys.stderr.write(f"error: no staff account {args.username!r}\n")
        return 1
    password = os.environ.get("MENPAI_STAFF_PASSWORD") or getpass.getpass(f"new password for {args.username}: ")
    try:
        hashed = hash_password(password)
    except ValueError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    store.staff.set_password(staff.id, hashed)
    store.staff_sessions.delete_of(staff.id)
    sys.stdout.write(f"new password set for {args.username}; its sessions have ended\n")
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
            password = secrets.token_urlsafe(18)  # 24 characters
            if store.staff.by_username(username) is None:
                store.staff.add(username, name, role, hash_password(password))
                lines.append(f"{username} {password}")
        write_private(path, "\n".join(lines) + "\n")
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
    groups = knowledge_cli.register(sub)

    guides = groups["guides"]
    export = guides.add_parser("export", help="write the published guides (database version, else file) as YAML")
    export.add_argument("dir", help="folder to write <code>.yaml files into")
    export.set_defaults(func=cmd_guides_export)
    imp = guides.add_parser("import", help="publish a folder of guide YAMLs as new versions (validated)")
    imp.add_argument("dir", help="folder of <code>.yaml files (or a guides folder with items/)")
    imp.add_argument("--author", help="staff username to record as the author")
    imp.set_defaults(func=cmd_guides_import)

    ask = sub.add_parser("ask", help="answer a question from the guides")
    ask.add_argument("question")
    ask.add_argument("--plate", help="door-plate code, for the nearest halls")
    ask.add_argument("--json", action="store_true")
    ask.set_defaults(func=cmd_ask)

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
    make.add_argument("--plates", help="a CSV of plates in the columns of guides/plates.csv (default: the guides')")
    make.add_argument("--quiet", action="store_true", help="no progress bar")
    make.set_defaults(func=cmd_plates_make)

    staff = sub.add_parser("staff", help="help-desk staff accounts").add_subparsers(dest="sub", required=True)
    add = staff.add_parser("add", help="add a staff account (password from MENPAI_STAFF_PASSWORD or a prompt)")
    add.add_argument("username")
    add.add_argument("--name")
    add.add_argument("--role", choices=["agent", "supervisor", "hotline", "editor"], default="agent")
    add.set_defaults(func=cmd_staff_add)
    pw = staff.add_parser("password", help="set a new password (MENPAI_STAFF_PASSWORD or a prompt); ends its sessions")
    pw.add_argument("username")
    pw.set_defaults(func=cmd_staff_password)
    demo = staff.add_parser("demo", help="create demo accounts with random passwords (var/demo-staff.txt)")
    demo.set_defaults(func=cmd_staff_demo)

    tr = sub.add_parser("transcript", help="the stored messages of one conversation (role, kind, text, time)")
    tr.add_argument("session", help="the conversation id (web chats: a hex id; WeChat: wx-<openid>)")
    tr.add_argument("--json", action="store_true")
    tr.set_defaults(func=cmd_transcript)

    purge = sub.add_parser("purge", help="delete what is past its retention days (MENPAI_RETENTION_*); print counts")
    purge.add_argument("--dry-run", action="store_true", help="count only, delete nothing")
    purge.set_defaults(func=cmd_purge)

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
    quiet_http_client_logs()
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
