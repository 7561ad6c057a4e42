"""Start the Rasa server (REST channel on loopback, HTTP API off) — run with .venv-bot.

Rasa 3.6 hard-codes a 300 s timeout for calls to the action server; a resident
must not wait that long, so it is lowered here (MENPAI_ACTION_TIMEOUT, default 5 s).
The endpoints file is written from settings, so the tracker store follows the
database kind (SQLite by default, PostgreSQL by URL) and the lock store can be
Redis when several Rasa instances run.

Environment:
    MENPAI_RASA_TRACKER_URL  sqlite:///var/bot/tracker.db | postgresql://user:pw@host:5432/db
    MENPAI_RASA_LOCK_URL     empty = in-memory | redis://host:6379/1
    MENPAI_ACTION_URL        http://127.0.0.1:5055/webhook
    MENPAI_ACTION_TIMEOUT    seconds, default 5
    MENPAI_RASA_PORT         default 5005
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Dict
from urllib.parse import urlparse

import yaml

ROOT = Path(__file__).resolve().parent.parent


def endpoints() -> Dict[str, Any]:
    tracker = urlparse(os.environ.get("MENPAI_RASA_TRACKER_URL", f"sqlite:///{ROOT / 'var/bot/tracker.db'}"))
    data: Dict[str, Any] = {
        "action_endpoint": {"url": os.environ.get("MENPAI_ACTION_URL", "http://127.0.0.1:5055/webhook")},
    }
    if tracker.scheme.startswith("sqlite"):
        db = tracker.path if tracker.netloc == "" else tracker.netloc + tracker.path
        data["tracker_store"] = {"type": "SQL", "dialect": "sqlite", "db": db}
    else:
        data["tracker_store"] = {
            "type": "SQL", "dialect": "postgresql", "url": tracker.hostname, "port": tracker.port or 5432,
            "db": tracker.path.lstrip("/"), "username": tracker.username or "postgres",
            "password": tracker.password or "",
        }
    lock = os.environ.get("MENPAI_RASA_LOCK_URL", "")
    if lock:
        parsed = urlparse(lock)
        data["lock_store"] = {"type": "redis", "url": parsed.hostname, "port": parsed.port or 6379,
                              "db": int(parsed.path.lstrip("/") or 0)}
    return data


def main() -> None:
    out = ROOT / "var" / "bot" / "endpoints.yml"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(endpoints()), encoding="utf-8")

    import rasa.core.actions.action as action

    action.DEFAULT_REQUEST_TIMEOUT = int(os.environ.get("MENPAI_ACTION_TIMEOUT", "5"))
    from rasa.__main__ import main as rasa_main

    sys.argv = [
        "rasa", "run", "--model", str(ROOT / "var/bot/models/menpai.tar.gz"),
        "--endpoints", str(out), "--credentials", str(ROOT / "bot/credentials.yml"),
        "--interface", "127.0.0.1", "--port", os.environ.get("MENPAI_RASA_PORT", "5005"),
        *sys.argv[1:],
    ]
    rasa_main()


if __name__ == "__main__":
    main()
