"""Start the real processes (action server, Rasa, web) for end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


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


def start_actions(stack: ExitStack, tmp: Path) -> tuple[str, subprocess.Popen[bytes]]:
    """The action server (rasa-sdk) on a free port; returns its webhook URL and process."""
    port = free_port()
    proc = stack.enter_context(
        process(
            [str(ROOT / ".venv-bot/bin/rasa"), "run", "actions", "--actions", "actions", "--port", str(port)],
            ready=f"http://127.0.0.1:{port}/health",
            log=tmp / f"actions-{port}.log",
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
