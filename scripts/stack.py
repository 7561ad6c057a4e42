"""The one stack starter: action server, Rasa (REST channel, no HTTP API) and web, as real processes.

Used by ``scripts/run.sh`` (``python scripts/stack.py run``: the product on embedded defaults,
each process restarted when it dies), by the bench and by the end-to-end tests (``start_rasa``,
``start_web`` inside an ``ExitStack``: everything started stops when the stack closes).
"""

from __future__ import annotations

import argparse
import os
import shutil
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


# ------------------------------------------------------------------ nginx in front (scale-out, bench)


def ensure_nginx() -> str:
    """Debian's nginx: installed when missing and we are root (``make demo-scale``, the bench)."""
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None and os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "-q", "nginx"], check=False, capture_output=True)
        found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None:
        raise RuntimeError("nginx is needed here: apt-get install -y nginx")
    return found


def proxy_locations(upstream: str) -> str:
    """One location passing everything to ``upstream``: kept-alive connections, long polls and
    SSE unbuffered and held up to a minute (web's long polls end after 25 s)."""
    return f"""
    location / {{
      proxy_pass http://{upstream};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_buffering off;
      proxy_read_timeout 60s;
      client_max_body_size 64k;
    }}"""


def upstream(name: str, urls: list[str]) -> str:
    """Round robin over the copies; a copy that refuses connections is skipped for 10 s."""
    servers = "".join(f"\n    server {u.removeprefix('http://')} max_fails=1 fail_timeout=10s;" for u in urls)
    return f"upstream {name} {{{servers}\n    keepalive 64;\n  }}"


def nginx_config(tmp: Path, servers: str, *, workers: int = 1) -> Path:
    """An nginx.conf of our own under tmp (pid, logs, temp files there; runs without root's config)."""
    tmp.mkdir(parents=True, exist_ok=True)
    temp = tmp / "nginx-temp"
    temp.mkdir(exist_ok=True)
    conf = tmp / "nginx.conf"
    conf.write_text(
        f"""worker_processes {workers};
pid {tmp / "nginx.pid"};
error_log {tmp / "nginx-error.log"} warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {temp}/body;
  proxy_temp_path {temp}/proxy;
  fastcgi_temp_path {temp}/fastcgi;
  uwsgi_temp_path {temp}/uwsgi;
  scgi_temp_path {temp}/scgi;
  {servers}
}}
""",
        encoding="utf-8",
    )
    return conf


def nginx_cmd(conf: Path) -> list[str]:
    return [ensure_nginx(), "-e", str(conf.parent / "nginx-error.log"), "-c", str(conf), "-g", "daemon off;"]


def start_nginx(stack: ExitStack, tmp: Path, servers: str, ready: str, *, workers: int = 1) -> subprocess.Popen[bytes]:
    """nginx with these ``server``/``upstream`` blocks; stops when the stack closes."""
    conf = nginx_config(tmp, servers, workers=workers)
    return stack.enter_context(process(nginx_cmd(conf), ready=ready, log=tmp / "nginx.log", timeout=30))


def scale_servers(port: int, webs: list[str], rasa_port: int | None = None, rasas: list[str] | None = None) -> str:
    """nginx on ``port`` in front of the web copies (and on ``rasa_port``, loopback, of the Rasa copies)."""
    out = [
        upstream("menpai_web", webs),
        f"server {{\n    listen 127.0.0.1:{port};{proxy_locations('menpai_web')}\n  }}",
    ]
    if rasa_port is not None and rasas:
        out += [
            upstream("menpai_rasa", rasas),
            f"server {{\n    listen 127.0.0.1:{rasa_port};{proxy_locations('menpai_rasa')}\n  }}",
        ]
    return "\n  ".join(out)


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
    banner = [
        f"==> web on http://127.0.0.1:{port}  — try the door plate http://127.0.0.1:{port}/p/NA010001",
        "    (Rasa takes ~30 s to load; until then chats are answered from retrieval alone)",
        f"    logs: {logs}/actions.log rasa.log web.log; a process that dies is restarted",
    ]
    return supervise(procs, banner)


SCALE_PORTS = {"web": (8101, 8102), "rasa": (5101, 5102), "rasa_proxy": 5100, "actions": 5155}


def scale_env(database_url: str, secret_key: str) -> dict[str, dict[str, str]]:
    """The settings of each kind of process in the scaled stack (``scale``, the e2e test)."""
    rasa_tracker = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    return {
        "rasa": {
            "MENPAI_RASA_TRACKER_URL": os.environ.get("MENPAI_RASA_TRACKER_URL", rasa_tracker),
            "MENPAI_RASA_LOCK_URL": os.environ.get("MENPAI_RASA_LOCK_URL", "redis://127.0.0.1:6379/1"),
        },
        "web": {
            "MENPAI_DATABASE_URL": database_url,
            # Sessions and CSRF tokens made by one copy are checked by the other: one key for all.
            "MENPAI_SECRET_KEY": secret_key,
            "MENPAI_TRUSTED_PROXIES": "127.0.0.1",  # nginx: rate limits see the resident's address
        },
    }


def scale(port: int) -> int:
    """ARCHITECTURE's "growing past one machine" on one machine: nginx on ``port`` in front of two
    web copies, two Rasa copies (SQL tracker store on PostgreSQL, Redis lock store) behind a
    loopback nginx port of their own, one action server; every process supervised."""
    database_url = os.environ.get("MENPAI_DATABASE_URL", "")
    if not database_url.startswith("postgresql"):
        print("error: make demo-scale needs MENPAI_DATABASE_URL=postgresql+psycopg://user@host/db", file=sys.stderr)
        return 2
    sys.path.insert(0, str(ROOT))
    from knowledge.settings import Settings

    secret = Settings().secret()  # var/secret_key unless MENPAI_SECRET_KEY is set: the same for both copies
    env = scale_env(database_url, secret)
    logs = ROOT / "var" / "log"
    logs.mkdir(parents=True, exist_ok=True)
    p = SCALE_PORTS
    actions_url = f"http://127.0.0.1:{p['actions']}/webhook"
    procs = [Supervised("actions", actions_cmd(p["actions"]), logs / "actions.log", cwd=ROOT / "bot", env=ACTIONS_ENV)]
    for n, rasa_port in enumerate(p["rasa"], start=1):
        rasa_env = {**env["rasa"], "MENPAI_RASA_PORT": str(rasa_port), "MENPAI_ACTION_URL": actions_url}
        procs.append(
            Supervised(
                f"rasa-{n}",
                [str(ROOT / ".venv-bot/bin/python"), str(ROOT / "bot/serve.py")],
                logs / f"rasa-{n}.log",
                env=rasa_env,
            )
        )
    for n, web_port in enumerate(p["web"], start=1):
        web_env = {
            **env["web"],
            "MENPAI_INSTANCE_NAME": f"web-{n}",
            "MENPAI_RASA_URL": f"http://127.0.0.1:{p['rasa_proxy']}",
        }
        cmd = [str(ROOT / ".venv/bin/menpai"), "serve", "--port", str(web_port)]
        procs.append(Supervised(f"web-{n}", cmd, logs / f"web-{n}.log", env=web_env))
    servers = scale_servers(
        port,
        [f"http://127.0.0.1:{w}" for w in p["web"]],
        p["rasa_proxy"],
        [f"http://127.0.0.1:{r}" for r in p["rasa"]],
    )
    conf = nginx_config(ROOT / "var" / "nginx", servers, workers=1)
    procs.append(Supervised("nginx", nginx_cmd(conf), logs / "nginx.log"))
    banner = [
        f"==> nginx on http://127.0.0.1:{port} in front of web-1 :{p['web'][0]} and web-2 :{p['web'][1]} "
        f"(X-Served-By names the copy) — http://127.0.0.1:{port}/p/NA010001",
        f"    Rasa copies :{p['rasa'][0]} :{p['rasa'][1]} behind :{p['rasa_proxy']}; tracker on PostgreSQL, locks on Redis",
        "    (Rasa takes ~60 s to load both copies; until then chats are answered from retrieval alone)",
        f"    logs: {logs}/; a process that dies is restarted",
    ]
    return supervise(procs, banner)


def supervise(procs: list[Supervised], banner: list[str]) -> int:
    """Start every process, restart one that dies (with back-off), stop all on Ctrl-C or SIGTERM."""
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    for p in procs:
        p.start()
    for line in banner:
        print(line, flush=True)
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
    sc = sub.add_parser("scale", help="nginx in front of 2 web and 2 Rasa copies on PostgreSQL and Redis, supervised")
    sc.add_argument("--port", type=int, default=int(os.environ.get("MENPAI_PORT", "8000")))
    args = parser.parse_args(argv)
    return scale(args.port) if args.command == "scale" else run(args.port)


if __name__ == "__main__":
    raise SystemExit(main())
