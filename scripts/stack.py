"""The one stack starter: action server, Rasa (REST channel, no HTTP API) and web, as real processes.

Used by ``scripts/run.sh`` (``python scripts/stack.py run``: the product on embedded defaults,
each process restarted when it dies), by the bench and by the end-to-end tests (``start_rasa``,
``start_web`` inside an ``ExitStack``: everything started stops when the stack closes).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: process exited with {proc.returncode}; log:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} not ready after {timeout}s; log:\n{log.read_text()[-3000:]}")


@contextmanager
def process(
    cmd: list[str], *, ready: str, log: Path, env: dict[str, str] | None = None, cwd: Path = ROOT, timeout: float = 180
) -> Iterator[subprocess.Popen[bytes]]:
    full_env = {
        **os.environ,
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "HF_HUB_OFFLINE": "1",
        "PYTHONWARNINGS": "ignore",
        **(env or {}),
    }
    with log.open("wb") as fh:
        proc = subprocess.Popen(cmd, cwd=cwd, env=full_env, stdout=fh, stderr=subprocess.STDOUT)
        try:
            wait_http(ready, timeout, proc, log)
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


@dataclass
class Bot:
    """A running Rasa server and the action server it calls."""

    url: str
    rasa: subprocess.Popen[bytes]
    actions: subprocess.Popen[bytes] | None
    actions_url: str


# rasa-sdk 3.6 has no --host option: its server binds os.environ["SANIC_HOST"] (default 0.0.0.0,
# every interface). Only Rasa on this machine calls the actions, so they listen on loopback.
# No --cors either: rasa-sdk then allows no cross-origin caller.
ACTIONS_ENV = {"SANIC_HOST": "127.0.0.1"}


def actions_cmd(port: int) -> list[str]:
    return [str(ROOT / ".venv-bot/bin/rasa"), "run", "actions", "--actions", "actions", "--port", str(port)]


def start_actions(stack: ExitStack, tmp: Path) -> tuple[str, subprocess.Popen[bytes]]:
    """The action server (rasa-sdk) on a free loopback port; returns its webhook URL and process."""
    port = free_port()
    proc = stack.enter_context(
        process(
            actions_cmd(port),
            ready=f"http://127.0.0.1:{port}/health",
            log=tmp / f"actions-{port}.log",
            env=ACTIONS_ENV,
            cwd=ROOT / "bot",
        )
    )
    return f"http://127.0.0.1:{port}/webhook", proc


def start_rasa(
    stack: ExitStack,
    tmp: Path,
    timeout: float = 300,
    *,
    actions_url: str | None = None,
    env: dict[str, str] | None = None,
) -> Bot:
    """A Rasa server (REST channel, no HTTP API) on a free port, with its own action server
    unless ``actions_url`` names one already running. ``env``: bot/serve.py settings (tracker
    and lock store). Everything started stops when the stack closes."""
    actions = None
    if actions_url is None:
        actions_url, actions = start_actions(stack, tmp)
    rasa_port = free_port()
    rasa = stack.enter_context(
        process(
            [str(ROOT / ".venv-bot/bin/python"), str(ROOT / "bot/serve.py")],
            ready=f"http://127.0.0.1:{rasa_port}/webhooks/rest/",
            log=tmp / f"rasa-{rasa_port}.log",
            timeout=timeout,
            env={
                "MENPAI_RASA_PORT": str(rasa_port),
                "MENPAI_ACTION_URL": actions_url,
                "MENPAI_RASA_TRACKER_URL": f"sqlite:///{tmp / 'tracker.db'}",
                **(env or {}),
            },
        )
    )
    return Bot(f"http://127.0.0.1:{rasa_port}", rasa, actions, actions_url)


@dataclass
class Web:
    url: str
    proc: subprocess.Popen[bytes]


def start_web(
    stack: ExitStack, tmp: Path, rasa_url: str, *, env: dict[str, str] | None = None, timeout: float = 180
) -> Web:
    """web (``menpai serve``) on a free port, with its own var/ under tmp (sharing the built index)."""
    port = free_port()
    index = tmp / "var" / "index"
    if not index.exists():
        index.parent.mkdir(parents=True, exist_ok=True)
        index.symlink_to(ROOT / "var" / "index")
    proc = stack.enter_context(
        process(
            [str(ROOT / ".venv/bin/menpai"), "serve", "--port", str(port)],
            ready=f"http://127.0.0.1:{port}/healthz",
            log=tmp / f"web-{port}.log",
            timeout=timeout,
            env={
                "MENPAI_RASA_URL": rasa_url,
                "MENPAI_VAR_PATH": str(tmp / "var"),
                "MENPAI_RASA_TIMEOUT": "5",
                "MENPAI_ENVIRONMENT": "test",
                **(env or {}),
            },
        )
    )
    return Web(f"http://127.0.0.1:{port}", proc)


# ------------------------------------------------------------------ run: the product, supervised

RESTART_BACKOFF = (1, 2, 5, 10, 30)  # seconds before the 1st, 2nd, … restart of a process


@dataclass
class Supervised:
    name: str
    cmd: list[str]
    log: Path
    cwd: Path = ROOT
    env: dict[str, str] | None = None
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started: float = 0.0

    def start(self) -> None:
        env = {
            **os.environ,
            "RASA_TELEMETRY_ENABLED": "false",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "PYTHONWARNINGS": "ignore",
            **(self.env or {}),
        }
        with self.log.open("ab") as fh:
            self.proc = subprocess.Popen(self.cmd, cwd=self.cwd, env=env, stdout=fh, stderr=subprocess.STDOUT)
        self.started = time.monotonic()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def restart_dead(
    procs: list[Supervised], stopping: Callable[[], bool], backoff: tuple[int, ...] = RESTART_BACKOFF
) -> None:
    """One look at the processes: each one that exited is started again after its back-off."""
    for p in procs:
        if p.proc is not None and p.proc.poll() is not None and not stopping():
            if time.monotonic() - p.started > 60:
                p.restarts = 0  # it ran a while: start the back-off again
            wait = backoff[min(p.restarts, len(backoff) - 1)]
            print(f"==> {p.name} exited with {p.proc.returncode}; restarting in {wait}s", file=sys.stderr, flush=True)
            time.sleep(wait)
            p.restarts += 1
            p.start()


def run(port: int) -> int:
    """The three processes on embedded defaults; a process that dies is restarted (web answers from
    retrieval alone meanwhile); Ctrl-C or SIGTERM stops all three."""
    logs = ROOT / "var" / "log"
    logs.mkdir(parents=True, exist_ok=True)
    procs = [
        Supervised("actions", actions_cmd(5055), logs / "actions.log", cwd=ROOT / "bot", env=ACTIONS_ENV),
        Supervised("rasa", [str(ROOT / ".venv-bot/bin/python"), str(ROOT / "bot/serve.py")], logs / "rasa.log"),
        Supervised("web", [str(ROOT / ".venv/bin/menpai"), "serve", "--port", str(port)], logs / "web.log"),
    ]
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    for p in procs:
        p.start()
    print(f"==> web on http://127.0.0.1:{port}  — try the door plate http://127.0.0.1:{port}/p/NA010001", flush=True)
    print("    (Rasa takes ~30 s to load; until then chats are answered from retrieval alone)", flush=True)
    print(f"    logs: {logs}/actions.log rasa.log web.log; a process that dies is restarted", flush=True)
    try:
        while not stopping:
            restart_dead(procs, lambda: stopping)
            time.sleep(0.5)
    finally:
        for p in reversed(procs):
            p.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="start the menpai stack")
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="action server, Rasa and web on embedded defaults, supervised")
    r.add_argument("--port", type=int, default=int(os.environ.get("MENPAI_PORT", "8000")))
    args = parser.parse_args(argv)
    return run(args.port)


if __name__ == "__main__":
    raise SystemExit(main())
