"""Start the Rasa server (REST channel on loopback, HTTP API off) — run with .venv-bot.

Rasa 3.6 hard-codes a 300 s timeout for calls to the action server; a resident
must not wait that long, so it is lowered here (MENPAI_ACTION_TIMEOUT, default 5 s).

Rasa runs every chat turn on one event loop, so its CPU time per turn is what
10 concurrent conversations queue behind. Profiling (py-spy, `scripts/bench.py
chat`) found three costs that buy nothing and are removed here:
- it re-checks the action-response JSON schema itself on every action call, a
  third of its CPU per turn (responses are still validated: fast_action_validation);
- it walks the Event class tree to deserialise every stored event of the
  conversation on every turn (fast_event_lookup);
- TensorFlow's thread pools spin on both cores around a model this small
  (one thread each; the other core serves web and the actions).
- it opens a new HTTP session, so a new connection, for every action call
  (persistent_endpoint_sessions), and sends the whole domain with it although
  our actions never read it (enable_selective_domain);
- a second message of a conversation waits for the first by sleeping whole
  seconds (quick_lock_polling);
- full garbage collections walk the whole loaded model, 200–500 ms each
  (freeze_loaded_model).
The tracker store is tuned for SQLite in sqlite_tracker_store.py.
The endpoints file is written from settings, so the tracker store follows the
database kind (SQLite by default, PostgreSQL by URL) and the lock store can be
Redis when several Rasa instances run.

Environment:
    MENPAI_RASA_TRACKER_URL  sqlite:///var/bot/tracker.db | postgresql://user:pw@host:5432/db
    MENPAI_RASA_LOCK_URL     empty = in-memory | redis://host:6379/1
    MENPAI_ACTION_URL        http://127.0.0.1:5055/webhook
    MENPAI_ACTION_TIMEOUT    seconds, default 5
    MENPAI_RASA_PORT         default 5005
    MENPAI_RASA_LOCK_POLL    seconds between checks of a busy conversation lock, default 0.02
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
        "action_endpoint": {
            "url": os.environ.get("MENPAI_ACTION_URL", "http://127.0.0.1:5055/webhook"),
            # Our actions never read the domain: do not serialise and send all of it on every call.
            "enable_selective_domain": True,
        },
    }
    if tracker.scheme.startswith("sqlite"):
        # SQLAlchemy style: sqlite:///relative/file.db, sqlite:////absolute/file.db
        db = tracker.path[1:] if tracker.netloc == "" else tracker.netloc + tracker.path
        # Rasa's SQL store with WAL and pooled connections (see sqlite_tracker_store.py).
        data["tracker_store"] = {"type": "sqlite_tracker_store.SQLiteTrackerStore", "dialect": "sqlite", "db": db}
    else:
        data["tracker_store"] = {
            "type": "SQL", "dialect": "postgresql", "url": tracker.hostname, "port": tracker.port or 5432,
            "db": tracker.path.lstrip("/"), "username": tracker.username or "postgres",
            "password": tracker.password or "",
        }
    lock = os.environ.get("MENPAI_RASA_LOCK_URL", "")
    if lock:
        parsed = urlparse(lock)
        # Rasa's Redis lock store, with its ticket updates made atomic (see redis_lock_store.py).
        data["lock_store"] = {"type": "redis_lock_store.AtomicRedisLockStore", "url": parsed.hostname,
                              "port": parsed.port or 6379, "db": int(parsed.path.lstrip("/") or 0)}
    return data


def fast_action_validation() -> None:
    """Validate action server responses with one compiled validator.

    RemoteAction._validate_action_result calls jsonschema.validate(), which checks the
    (large, constant) events schema against the meta-schema before validating the
    response, on every call. That is the same result every time, so do it once; the
    response itself is validated exactly as jsonschema.validate() would (best match
    error, same message added).
    """
    from jsonschema import exceptions
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)
    validator = cls(schema)

    def validate(self: RemoteAction, result: Dict[str, Any]) -> bool:
        error = exceptions.best_match(validator.iter_errors(result))
        if error is None:
            return True
        error.message += (
            ". Failed to validate Action server response from API, make sure your response "
            "from the Action endpoint is valid."
        )
        raise error

    RemoteAction._validate_action_result = validate  # type: ignore[method-assign]


def fast_event_lookup() -> None:
    """Cache Event.resolve_by_type (event type name → class).

    Loading a tracker deserialises each stored event, and Rasa finds its class by
    listing all Event subclasses recursively every time. The classes do not change
    while the server runs; unknown names still go to Rasa's own lookup.
    """
    from rasa.shared.core import events

    resolve = events.Event.resolve_by_type
    known: Dict[str, Any] = {}

    def resolve_by_type(type_name: str, default: Any = None) -> Any:
        cls = known.get(type_name)
        if cls is None:
            cls = resolve(type_name, default)
            if cls is not None and getattr(cls, "type_name", None) == type_name:
                known[type_name] = cls
        return cls

    events.Event.resolve_by_type = staticmethod(resolve_by_type)  # type: ignore[method-assign]


def persistent_endpoint_sessions() -> None:
    """Keep one HTTP client session (and its kept-alive connections) per endpoint.

    EndpointConfig.request opens a new aiohttp ClientSession, and so a new TCP
    connection, for every call to the action server, i.e. on every turn. Here each
    endpoint keeps its session for the life of the event loop; requests, headers,
    timeouts and error handling are Rasa's own.
    """
    import asyncio

    import aiohttp
    from rasa.utils import endpoints

    original_session = endpoints.EndpointConfig.session
    if getattr(original_session, "menpai_patch", False):
        return

    def session(self: Any) -> Any:
        # Kept on the endpoint itself (for the loop that made it): it lives as long as the endpoint.
        loop = asyncio.get_running_loop()
        owner, client = getattr(self, "_menpai_session", (None, None))
        if owner is not loop or client is None or client.closed:
            client = original_session(self)
            self._menpai_session = (loop, client)
        return _Borrowed(client)

    class _Borrowed:
        """`async with` that lends the shared session without closing it."""

        def __init__(self, client: aiohttp.ClientSession) -> None:
            self.client = client

        async def __aenter__(self) -> aiohttp.ClientSession:
            return self.client

        async def __aexit__(self, *exc: Any) -> None:
            return None

    session.menpai_patch = True  # type: ignore[attr-defined]
    endpoints.EndpointConfig.session = session  # type: ignore[method-assign]


def quick_lock_polling() -> None:
    """Poll a busy conversation lock every 20 ms instead of every second.

    Rasa handles one message per conversation at a time; a second message from the
    same sender (a resident who sends two lines quickly) waits for the lock by
    sleeping a whole second between checks, so it waited up to a second after the
    first answer was out. Checking costs a dict lookup (a GET with Redis).
    """
    from rasa.core import lock_store

    original = lock_store.LockStore.lock
    if getattr(original, "menpai_patch", False):
        return
    poll = float(os.environ.get("MENPAI_RASA_LOCK_POLL", "0.02"))

    def lock(
        self: Any, conversation_id: str, lock_lifetime: float = lock_store.LOCK_LIFETIME,
        wait_time_in_seconds: float = poll,
    ) -> Any:
        return original(self, conversation_id, lock_lifetime, wait_time_in_seconds)

    lock.menpai_patch = True  # type: ignore[attr-defined]
    lock_store.LockStore.lock = lock  # type: ignore[method-assign]


def freeze_loaded_model() -> None:
    """Once the model is loaded, move every object alive into the GC's permanent generation.

    The loaded model and libraries are ~1.3 GB of long-lived objects; each full (gen2)
    collection walked all of them and stopped every conversation for 200–500 ms
    (gc.callbacks, `scripts/bench.py wechat`). Frozen objects are never scanned;
    what turns allocate is still collected as before.
    """
    import gc

    from rasa.core import run

    original = run.load_agent_on_start
    if getattr(original, "menpai_patch", False):
        return

    async def load_agent_on_start(*args: Any, **kwargs: Any) -> Any:
        agent = await original(*args, **kwargs)
        gc.collect()
        gc.freeze()
        return agent

    load_agent_on_start.menpai_patch = True  # type: ignore[attr-defined]
    run.load_agent_on_start = load_agent_on_start


def write_endpoints(out: Path) -> Path:
    """The endpoints file, readable by its owner only (the tracker URL may carry a password)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an older file keeps its mode otherwise
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(yaml.safe_dump(endpoints()))
    return out


def main() -> None:
    # Read by Rasa's setup_tf_environment() at start; an explicit setting wins.
    os.environ.setdefault("TF_INTER_OP_PARALLELISM_THREADS", "1")
    os.environ.setdefault("TF_INTRA_OP_PARALLELISM_THREADS", "1")
    out = write_endpoints(ROOT / "var" / "bot" / "endpoints.yml")

    import rasa.core.actions.action as action

    action.DEFAULT_REQUEST_TIMEOUT = int(os.environ.get("MENPAI_ACTION_TIMEOUT", "5"))
    fast_action_validation()
    fast_event_lookup()
    persistent_endpoint_sessions()
    quick_lock_polling()
    freeze_loaded_model()
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
