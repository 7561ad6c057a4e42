"""`make bench`: accuracy, latency, throughput and memory, written to var/bench/.

Sections (run all, or name some: retrieval scale nlu chat web helpdesk wechat):
  retrieval  eval of each retriever on ../shared/eval/dev.yaml, shipped index build time, RSS
  scale      a synthetic 10,000-item corpus: build time, warm query p50/p95, RSS
  nlu        Rasa NLU intent macro-F1 on a held-out 20 % split
  chat       chat turns web → Rasa → actions at 1 and 10 concurrent sessions; Rasa RSS
  web        plate page and /api/ask throughput and p95 under concurrency; page weight
  helpdesk   200 resident conversations, 10 agents: lost/duplicated messages, delivery p95, first response (SQLite, PostgreSQL)
  wechat     /wechat p95 with 20 concurrent senders; duplicate replies under a retry storm
Nothing here asserts a time: numbers go to var/bench/results.md and results.json.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import resource
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from knowledge.evaluate import load_eval_set, report, summary  # noqa: E402
from knowledge.settings import RATE_DEFAULTS, Settings  # noqa: E402
from scripts.stack import free_port, process, start_rasa, start_web  # noqa: E402

OUT = ROOT / "var" / "bench"
EVAL = ROOT.parent / "shared" / "eval" / "dev.yaml"
PG_URL = os.environ.get("MENPAI_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
RESULTS: dict[str, Any] = {}
LINES: list[str] = []


def rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def pid_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * (len(values) - 1)))], 1) if values else 0.0


def section(title: str, rows: list[tuple[str, Any]], note: str = "") -> None:
    LINES.append(f"## {title}\n")
    LINES.append("| measure | value |\n|---|---|")
    LINES.extend(f"| {k} | {v} |" for k, v in rows)
    if note:
        LINES.append(f"\n{note}")
    LINES.append("")
    print(f"\n## {title}", *(f"  {k}: {v}" for k, v in rows), sep="\n", flush=True)


async def load(fn: Callable[[int], Awaitable[None]], total: int, concurrency: int) -> tuple[float, list[float]]:
    """Run fn(i) total times with a concurrency limit; returns (seconds, latencies in ms)."""
    sem = asyncio.Semaphore(concurrency)
    lat: list[float] = []

    async def one(i: int) -> None:
        async with sem:
            t = time.perf_counter()
            await fn(i)
            lat.append((time.perf_counter() - t) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(total)))
    return time.perf_counter() - started, lat


# ---------------------------------------------------------------- retrieval


def bench_retrieval() -> None:
    from knowledge.index import load_index
    from knowledge.library import load_library
    from knowledge.pipeline import build_index
    from knowledge.service import KnowledgeBase

    settings = Settings()
    lib = load_library(settings.guides_path, settings.catalogue)
    out = OUT / "index-shipped"
    started = time.perf_counter()
    build_index(lib, out)
    build_s = round(time.perf_counter() - started, 1)
    kb = KnowledgeBase(lib, load_index(out, lib), settings)
    rep = report(kb, load_eval_set(EVAL))
    (OUT / "eval-dev.json").write_text(json.dumps(rep, ensure_ascii=False, indent=2), encoding="utf-8")
    RESULTS["retrieval"] = {k: v for k, v in rep.items() if k != "results"}
    hy = rep["by_retriever"]["hybrid"]
    section(
        "Retrieval on ../shared/eval/dev.yaml (160 questions) — offline default embedder",
        [
            ("index build, shipped guides (73 items, 2,084 entries)", f"{build_s} s"),
            *[
                (f"{p} hit@1 / hit@3 / MRR", f"{m['hit_at_1']} / {m['hit_at_3']} / {m['mrr']}")
                for p, m in rep["by_retriever"].items()
            ],
            ("hybrid abstain precision / recall", f"{hy['abstain_precision']} / {hy['abstain_recall']}"),
            ("hybrid false-abstain rate", hy["false_abstain_rate"]),
            ("hybrid must-mention recall", hy["must_mention_recall"]),
            ("warm query p50 / p95 (hybrid)", f"{hy['latency_ms_p50']} ms / {hy['latency_ms_p95']} ms"),
            ("peak RSS of this process", f"{rss_mb()} MB"),
        ],
        "```\n" + summary(rep) + "\n```",
    )
    # The packaged English MiniLM as it is, for the embedder decision.
    from knowledge.index import packaged_base_model

    base_out = OUT / "index-minilm-as-is"
    started = time.perf_counter()
    build_index(lib, base_out, embedder=packaged_base_model())
    base_s = round(time.perf_counter() - started, 1)
    base_rep = report(KnowledgeBase(lib, load_index(base_out, lib), settings), load_eval_set(EVAL))
    RESULTS["retrieval_minilm_as_is"] = {k: v for k, v in base_rep.items() if k != "results"}
    section(
        "Same, dense side = packaged all-MiniLM-L6-v2 as it is (no domain training)",
        [
            ("index build", f"{base_s} s"),
            *[
                (f"{p} hit@1 / hit@3 / MRR", f"{m['hit_at_1']} / {m['hit_at_3']} / {m['mrr']}")
                for p, m in base_rep["by_retriever"].items()
            ],
        ],
    )


def bench_crossval() -> None:
    """Retrieval cross-validated on our own asks (by writer batch and by style), beside dev.

    The threshold is chosen on the folds; dev is read once, as a final check, and the gap
    between the two is what a hidden set is likely to show.
    """
    from knowledge.crossval import cross_validate
    from knowledge.library import load_library
    from knowledge.service import KnowledgeBase

    settings = Settings()
    lib = load_library(settings.guides_path, settings.catalogue)
    started = time.perf_counter()
    cv = cross_validate(lib, work=OUT / "cv-folds", shipped_threshold=settings.abstain_threshold)
    cv_s = round(time.perf_counter() - started, 1)
    (OUT / "crossval.json").write_text(json.dumps(cv, ensure_ascii=False, indent=2), encoding="utf-8")
    dev = report(KnowledgeBase.open(settings), load_eval_set(EVAL), ["hybrid"])
    pooled = cv.get("pooled_at_shipped") or cv["pooled"]
    RESULTS["crossval"] = {"cv": {k: v for k, v in cv.items() if k != "by_fold"}, "dev": dev["by_retriever"]["hybrid"]}
    rows = [
        ("folds (each rebuilt without its asks and a slice of the topics)", ", ".join(cv["folds"])),
        ("threshold chosen on the folds / shipped", f"{cv['chosen_threshold']} / {settings.abstain_threshold}"),
        ("folds (at the shipped threshold): hit@1 / hit@3", f"{pooled['hit_at_1']} / {pooled['hit_at_3']}"),
        ("folds: abstain recall / false abstain", f"{pooled['abstain_recall']} / {pooled['false_abstain_rate']}"),
        (
            "folds: situation right / wrong (labelled asks)",
            f"{pooled['situation_right']} / {pooled['situation_wrong']}",
        ),
        ("dev: hit@1 / hit@3", f"{dev['hit_at_1']} / {dev['hit_at_3']}"),
        ("dev: abstain recall / false abstain", f"{dev['abstain_recall']} / {dev['false_abstain_rate']}"),
        ("gap dev − folds, hit@1", round(dev["hit_at_1"] - pooled["hit_at_1"], 4)),
        ("cross-validation time", f"{cv_s} s"),
    ]
    by_style = "\n".join(f"| {k} | {v['n']} | {v['hit_at_1']} |" for k, v in pooled["by_style"].items())
    section(
        "Retrieval cross-validated on our own data (`menpai eval-cv`), beside dev",
        rows,
        "| style | n | hit@1 |\n|---|---|---|\n" + by_style,
    )


def bench_scale(n_items: int = 10_000) -> None:
    """A synthetic corpus: the shipped guides cloned under new codes, with varied asks."""
    import random

    from knowledge.index import load_index
    from knowledge.library import load_library
    from knowledge.pipeline import build_index
    from knowledge.retrieval import Retriever
    from knowledge.schema import CatalogueItem
    from knowledge.settings import FaissKind

    settings = Settings()
    lib = load_library(settings.guides_path, settings.catalogue)
    rng = random.Random(5)
    towns = sorted({p.town for p in lib.plates.values()})
    base = list(lib.guides.values())
    guides, catalogue = {}, {}
    for i in range(n_items):
        g = base[i % len(base)]
        town = towns[i % len(towns)]
        code = f"syn-{i:05d}"
        asks = [f"{town}{a}" for a in rng.sample(g.asks, 4)]
        guides[code] = g.model_copy(
            update={
                "code": code,
                "title": f"{g.title}（{town}第{i}项）",
                "asks": asks,
                "faqs": g.faqs[:1],
                "prerequisites": [],
                "follow_ups": [],
                "members": [],
                "bundle": False,
            }
        )
        cat = lib.catalogue[g.code]
        catalogue[code] = CatalogueItem(code=code, name=f"{cat.name}{i}", dept=cat.dept, scope=cat.scope)
    lib.guides, lib.catalogue, lib.out_of_scope = guides, catalogue, {}
    lib.content_hash = f"synthetic-{n_items}"
    out = OUT / "index-10k"
    rss0 = rss_mb()
    started = time.perf_counter()
    manifest = build_index(lib, out, kind=FaissKind.HNSW, epochs=1, calibrate=False)
    build_s = round(time.perf_counter() - started, 1)
    rss_build = rss_mb()  # ru_maxrss: the peak so far, i.e. of the build
    index = load_index(out, lib)
    retriever = Retriever(index, situations={c: [s.id for s in g.situations] for c, g in guides.items()})
    questions = [f"{towns[i % len(towns)]}{base[i % len(base)].asks[0]}" for i in range(300)]
    for q in questions[:20]:
        retriever.search(q)
    lat = []
    for q in questions:
        t = time.perf_counter()
        retriever.search(q)
        lat.append((time.perf_counter() - t) * 1000)
    RESULTS["scale"] = {
        "items": n_items,
        "entries": manifest.entries,
        "build_s": build_s,
        "p50_ms": pct(lat, 0.5),
        "p95_ms": pct(lat, 0.95),
        "rss_build_mb": rss_build,
        "rss_mb": rss_mb(),
    }
    section(
        f"Synthetic corpus: {n_items:,} items (HNSW; static domain model trained 1 epoch)",
        [
            ("entries", f"{manifest.entries:,}"),
            ("index build (incl. domain model)", f"{build_s} s"),
            ("warm query p50 / p95", f"{pct(lat, 0.5)} ms / {pct(lat, 0.95)} ms"),
            (
                "peak RSS of the process (before → after the build → after load and queries)",
                f"{rss0} MB → {rss_build} MB → {rss_mb()} MB",
            ),
        ],
        "Peak RSS is ru_maxrss of the whole bench process (build, load and queries together).",
    )


# ---------------------------------------------------------------- NLU


def bench_nlu() -> None:
    # RASA_MAX_CACHE_SIZE=0: Rasa's training cache would otherwise reuse a model trained earlier
    # on the same split and config, and the training time reported would be a cache hit.
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2", "RASA_MAX_CACHE_SIZE": "0"}
    work = OUT / "nlu"
    work.mkdir(parents=True, exist_ok=True)
    rasa = str(ROOT / ".venv-bot/bin/rasa")
    import yaml

    docs = [
        yaml.safe_load(Path(d).read_text(encoding="utf-8"))
        for d in (ROOT / "bot/data/nlu.yml", ROOT / "var/bot/data/nlu_services.yml")
    ]
    merged = work / "all_nlu.yml"
    merged.write_text(
        yaml.safe_dump({"version": "3.1", "nlu": [x for d in docs for x in d["nlu"]]}, allow_unicode=True),
        encoding="utf-8",
    )
    started = time.perf_counter()
    run = lambda *a: subprocess.run(a, env=env, check=True, capture_output=True, cwd=ROOT)  # noqa: E731
    run(
        rasa,
        "data",
        "split",
        "nlu",
        "--nlu",
        str(merged),
        "--training-fraction",
        "0.8",
        "--random-seed",
        "7",
        "--out",
        str(work),
    )
    t_train = time.perf_counter()
    run(
        rasa,
        "train",
        "nlu",
        "--config",
        "bot/config.yml",
        "--nlu",
        str(work / "training_data.yml"),
        "--out",
        str(work / "models"),
        "--fixed-model-name",
        "heldout",
    )
    train_s = round(time.perf_counter() - t_train, 1)
    run(
        rasa,
        "test",
        "nlu",
        "--nlu",
        str(work / "test_data.yml"),
        "--model",
        str(work / "models/heldout.tar.gz"),
        "--out",
        str(work / "results"),
    )
    rep = json.loads((work / "results" / "intent_report.json").read_text(encoding="utf-8"))
    per = {
        k: round(v["f1-score"], 3)
        for k, v in rep.items()
        if isinstance(v, dict) and "support" in v and k not in ("macro avg", "weighted avg", "micro avg")
    }
    RESULTS["nlu"] = {
        "macro_f1": round(rep["macro avg"]["f1-score"], 4),
        "accuracy": rep.get("accuracy"),
        "per_intent": per,
        "train_s": train_s,
    }
    section(
        "Rasa NLU intents, held-out 20 % (trained on the other 80 %)",
        [
            ("macro-F1", round(rep["macro avg"]["f1-score"], 4)),
            ("accuracy", round(rep.get("accuracy", 0), 4)),
            ("NLU training time (80 %)", f"{train_s} s"),
            ("total incl. split and test", f"{round(time.perf_counter() - started, 1)} s"),
        ],
        "per intent F1: " + ", ".join(f"{k} {v}" for k, v in sorted(per.items())),
    )


# ---------------------------------------------------------------- processes


def fresh(path: Path) -> Path:
    """An empty run folder: a database left by an earlier run would answer retries from its cache."""
    shutil.rmtree(path, ignore_errors=True)
    return path


def start_stack(stack: ExitStack, tmp: Path, *, rasa: bool, env: dict[str, str] | None = None) -> dict[str, Any]:
    tmp.mkdir(parents=True, exist_ok=True)
    var = tmp / "var"
    var.mkdir(exist_ok=True)
    if not (var / "index").exists():
        (var / "index").symlink_to(ROOT / "var" / "index")
    info: dict[str, Any] = {}
    web_env = {
        "MENPAI_VAR_PATH": str(var),
        "MENPAI_ENVIRONMENT": "test",
        "MENPAI_STAFF_HOURS": "always",
        "MENPAI_RASA_URL": "http://127.0.0.1:9",
        # Every bench client comes from 127.0.0.1: the rate limits would measure refusals, not the app.
        **{f"MENPAI_RATE_{name.upper()}": "1000000000/60" for name in RATE_DEFAULTS},
        **(env or {}),
    }
    if rasa:
        bot = start_rasa(stack, tmp)
        info["rasa_pid"] = bot.rasa.pid
        web_env.update({"MENPAI_RASA_URL": bot.url, "MENPAI_RASA_TIMEOUT": "5"})
    web = start_web(stack, tmp, web_env["MENPAI_RASA_URL"], env=web_env)
    info.update(base=web.url, web_pid=web.proc.pid, var=var, env=web_env)
    return info


def bench_chat() -> None:
    with ExitStack() as stack:
        s = start_stack(stack, fresh(OUT / "chat-run"), rasa=True)
        base = s["base"]

        run_id = uuid.uuid4().hex[:8]  # fresh conversations: trackers of an earlier run must not grow
        left_bot: list[str] = []  # turns answered by staff instead of Rasa (should stay empty)

        async def run(concurrency: int, turns: int) -> list[float]:
            """`concurrency` residents chatting at once, each sending its next message when the
            previous answer arrived (two turns of one conversation never overlap)."""
            texts = ["换身份证要带什么", "那要多少钱", "在哪里办", "结婚登记要带什么", "公积金租房怎么提取"]
            lat: list[float] = []
            async with httpx.AsyncClient(timeout=30) as client:

                async def post(session: str, text: str) -> None:
                    r = await client.post(
                        f"{base}/api/chat", json={"session": session, "text": text, "plate": "NA010001"}
                    )
                    r.raise_for_status()
                    if r.json().get("mode") != "bot":
                        left_bot.append(session)

                async def resident(n: int) -> None:
                    # Every session walks through the same conversation in order (question,
                    # follow-ups, next question). Giving each session one fixed text, as before,
                    # made the follow-up-only sessions fail twice and go to the staff queue,
                    # after which Rasa was never called for them.
                    session = f"bench-{run_id}-{concurrency}-{n:03d}"
                    for step in range(turns // concurrency):
                        t = time.perf_counter()
                        await post(session, texts[step % len(texts)])
                        lat.append((time.perf_counter() - t) * 1000)

                await post(f"bench-{run_id}-warm", texts[0])
                await asyncio.gather(*(resident(n) for n in range(concurrency)))
            return lat

        one = asyncio.run(run(1, 40))
        ten = asyncio.run(run(10, 200))
        rss = pid_rss_mb(s["rasa_pid"])
        from web.chat.evalchat import eval_chat_file

        dialogues = eval_chat_file(EVAL.with_name("dialogues.yaml"), base).to_json()
        (OUT / "eval-chat.json").write_text(json.dumps(dialogues, ensure_ascii=False, indent=2), encoding="utf-8")
        RESULTS["chat"] = {
            "c1_p50": pct(one, 0.5),
            "c1_p95": pct(one, 0.95),
            "c10_p50": pct(ten, 0.5),
            "c10_p95": pct(ten, 0.95),
            "rasa_rss_mb": rss,
            "turns_not_with_bot": len(left_bot),
            "dialogues": {k: v for k, v in dialogues.items() if k != "failures"},
        }
        section(
            "Chat turns web → Rasa → actions (real processes, loopback)",
            [
                ("1 session: p50 / p95", f"{pct(one, 0.5)} ms / {pct(one, 0.95)} ms"),
                ("10 concurrent sessions: p50 / p95", f"{pct(ten, 0.5)} ms / {pct(ten, 0.95)} ms"),
                ("Rasa server peak RSS", f"{rss} MB"),
                ("turns handed to staff instead of Rasa (should be 0)", len(left_bot)),
                (
                    "public dialogues (`menpai eval-chat ../shared/eval/dialogues.yaml`): dialogues / turns passed",
                    f"{dialogues['dialogues_passed']}/{dialogues['dialogues']} / "
                    f"{dialogues['turns_passed']}/{dialogues['turns']}",
                ),
            ],
            "Each session walks through 换身份证要带什么 → 那要多少钱 → 在哪里办 → 结婚登记要带什么 → 公积金租房怎么提取.",
        )


def ensure_wrk() -> str:
    """wrk (Debian's package) generates the HTTP load: a Python client would eat the server's cores."""
    import shutil

    found = shutil.which("wrk")
    if found is None and os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=False, capture_output=True)
        found = shutil.which("wrk")
    if found is None:
        raise RuntimeError("wrk is needed for the web bench: apt-get install wrk")
    return found


def wrk(url: str, *, seconds: int = 10, connections: int = 20, body: str = "", gzip: bool = False) -> dict[str, Any]:
    """Run wrk against url; returns requests/s and latency percentiles in ms."""
    env = {**os.environ, "WRK_BODY": body, "WRK_ACCEPT_ENCODING": "gzip" if gzip else ""}
    out = subprocess.run(
        [ensure_wrk(), "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(ROOT / "scripts/wrk_report.lua"), url],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout
    data = json.loads(out.split("WRK_JSON", 1)[1])
    return {
        "rps": round(data["requests"] / (data["duration_us"] / 1e6)),
        "p50_ms": round(data["p50_us"] / 1000, 1),
        "p95_ms": round(data["p95_us"] / 1000, 1),
        "p99_ms": round(data["p99_us"] / 1000, 1),
        "errors": data["socket_errors"] + data["non2xx"],
    }


def bench_web() -> None:
    import gzip

    with ExitStack() as stack:
        s = start_stack(stack, fresh(OUT / "web-run"), rasa=False)
        base = s["base"]
        html = httpx.get(f"{base}/p/NA010001").text
        assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', html)
        weight = len(html.encode()) + sum(len(httpx.get(base + a).content) for a in assets)
        gz = len(gzip.compress(html.encode())) + sum(len(gzip.compress(httpx.get(base + a).content)) for a in assets)
        # The anchor: a bare FastAPI app on the same uvicorn serving the same bytes, in this run.
        page_file = OUT / "web-run" / "plate.html"
        page_file.write_bytes(httpx.get(f"{base}/p/NA010001").content)
        bare_port = free_port()
        stack.enter_context(
            process(
                [str(ROOT / ".venv/bin/python"), str(ROOT / "scripts/bare_app.py"), str(page_file), str(bare_port)],
                ready=f"http://127.0.0.1:{bare_port}/p/NA010001",
                log=OUT / "web-run" / "bare.log",
            )
        )
        bare_url = f"http://127.0.0.1:{bare_port}/p/NA010001"
        wrk(bare_url, seconds=3)  # warm
        bare = wrk(bare_url, seconds=15)
        wrk(f"{base}/p/NA010001", seconds=3)  # warm
        plate = wrk(f"{base}/p/NA010001", seconds=15)
        plate_gz = wrk(f"{base}/p/NA010001", seconds=15, gzip=True)
        ask = wrk(f"{base}/api/ask", seconds=15, body=json.dumps({"q": "换身份证要带什么", "plate": "NA010001"}))
        ratio = round(plate["rps"] / bare["rps"], 2) if bare["rps"] else None
        RESULTS["web"] = {
            "plate_vs_bare": ratio,
            "bare": bare,
            "plate": plate,
            "plate_gzip": plate_gz,
            "ask": ask,
            "page_bytes": weight,
            "page_gzip_bytes": gz,
            "web_rss_mb": pid_rss_mb(s["web_pid"]),
        }

        def row(r: dict[str, Any]) -> str:
            return f"{r['rps']} req/s / p50 {r['p50_ms']} ms / p95 {r['p95_ms']} ms ({r['errors']} errors)"

        section(
            "Plate page and /api/ask (wrk, 20 connections, 15 s, loopback; one web process)",
            [
                ("**plate page ÷ bare FastAPI app serving the same bytes (same run)**", f"**{ratio}**"),
                ("bare FastAPI app, same uvicorn, same bytes (the anchor)", row(bare)),
                ("plate page /p/NA010001: throughput / p50 / p95", row(plate)),
                ("plate page, Accept-Encoding: gzip", row(plate_gz)),
                ("/api/ask 换身份证要带什么: throughput / p50 / p95", row(ask)),
                ("plate page first-load weight (HTML+CSS+JS)", f"{weight / 1024:.1f} KB ({gz / 1024:.1f} KB gzipped)"),
                ("web process peak RSS", f"{pid_rss_mb(s['web_pid'])} MB"),
            ],
            "wrk runs on the same 2 cores as the server. A plate-page scan is queued and written in batches.",
        )


def bench_helpdesk() -> None:
    rows = []
    for name, url in [("SQLite", ""), ("PostgreSQL", "pg")]:
        tmp = OUT / f"helpdesk-{name.lower()}"
        shutil.rmtree(tmp, ignore_errors=True)  # every run starts from an empty database
        env: dict[str, str] = {}
        if url == "pg":
            from sqlalchemy import create_engine, text

            schema = f"bench_{uuid.uuid4().hex[:8]}"
            with create_engine(PG_URL).begin() as conn:
                conn.execute(text(f"CREATE SCHEMA {schema}"))
            env["MENPAI_DATABASE_URL"] = f"{PG_URL}?options=-csearch_path%3D{schema}"
        with ExitStack() as stack:
            for k, v in {"MENPAI_VAR_PATH": str(tmp / "var"), **env}.items():
                os.environ[k] = v
            (tmp / "var").mkdir(parents=True, exist_ok=True)
            subprocess.run([str(ROOT / ".venv/bin/menpai"), "staff", "demo"], check=True, capture_output=True)
            creds = dict(line.split() for line in (tmp / "var/demo-staff.txt").read_text().splitlines() if line)
            for k in ("MENPAI_VAR_PATH", *env):
                os.environ.pop(k, None)
            s = start_stack(stack, tmp, rasa=False, env=env)
            db_url = env.get("MENPAI_DATABASE_URL") or f"sqlite:///{tmp / 'var' / 'menpai.db'}"
            # Agents at a person's pace would be idle; 0.3 s between actions is still ~3 replies/s each.
            paced = asyncio.run(_helpdesk_run(s["base"], creds, think=0.3, tag="p"))
            rows.append((name, {**paced, **_first_responses(db_url, "hdp-")}))
            stress = asyncio.run(_helpdesk_run(s["base"], creds, think=0.0))
            rows.append((f"{name}, agents without pause", {**stress, **_first_responses(db_url, "hd-")}))
    RESULTS["helpdesk"] = dict(rows)
    section(
        "Help desk: 200 resident conversations, 10 agents, over HTTP",
        [
            (
                f"{n}: staff→resident messages sent / seen / lost / duplicated",
                f"{r['sent']} / {r['seen']} / {r['lost']} / {r['dup']}",
            )
            for n, r in rows
        ]
        + [
            (
                f"{n}: resident→staff messages sent / lost / duplicated",
                f"{r['in_sent']} / {r['in_lost']} / {r['in_dup']}",
            )
            for n, r in rows
        ]
        + [(f"{n}: staff→resident delivery p50 / p95", f"{r['p50']} ms / {r['p95']} ms") for n, r in rows]
        + [
            (f"{n}: the agent's reply POST alone p50 / p95", f"{r['reply_post_p50']} ms / {r['reply_post_p95']} ms")
            for n, r in rows
        ]
        + [
            (
                f"{n}: first response (queue → claim) p50 / p95 / max; over the 60 s target",
                f"{r['fr_p50']} s / {r['fr_p95']} s / {r['fr_max']} s; {r['fr_breaches']} of {r['fr_n']}",
            )
            for n, r in rows
        ],
        "Delivery latency is measured from the agent's reply POST being sent to the resident's long poll "
        "(`/api/chat/{session}/messages?wait=25`, as the widget does) returning it; 210 clients on the same 2 cores. "
        "First response is what the server records at each claim (table first_responses): 200 chats arrive at "
        "once for 10 agents, so most of it is the queue's length, not the server.",
    )


def _first_responses(db_url: str, prefix: str) -> dict[str, Any]:
    """The first-response clock of one run's conversations, as the server recorded it."""
    import datetime as dt

    from web.db.engine import make_engine
    from web.db.store import Store

    store = Store(make_engine(db_url))
    try:
        waits = [
            float(r.seconds)
            for r in store.first_responses.since(dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
            if r.conversation_id.startswith(prefix)
        ]
    finally:
        store.engine.dispose()
    return {
        "fr_n": len(waits),
        "fr_p50": pct(waits, 0.5),
        "fr_p95": pct(waits, 0.95),
        "fr_max": max(waits, default=0.0),
        "fr_breaches": sum(1 for w in waits if w > 60),
    }


async def _helpdesk_run(base: str, creds: dict[str, str], *, think: float, tag: str = "") -> dict[str, Any]:
    """200 residents ask for a person; 10 agents claim, reply twice, and read the resident's answer.

    ``think`` is each agent's pause before every action (0 = a stress test: the agents fire as
    fast as the server answers, so latency is mostly queueing)."""
    n_res, n_agents, per_conv = 200, 10, 2
    sent: dict[str, float] = {}
    seen: dict[str, int] = {}
    inbound_sent: set[str] = set()
    reply_ms: list[float] = []
    inbound_seen: dict[str, int] = {}
    latencies: list[float] = []
    # One connection per held long poll, plus the conversation openers.
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=n_res + 50)) as pub:

        async def open_conv(i: int) -> None:
            r = await pub.post(f"{base}/api/chat", json={"session": f"hd{tag}-{i:04d}-bench", "text": "我要人工"})
            r.raise_for_status()

        agents = []
        for k in range(n_agents):
            c = httpx.AsyncClient(timeout=60, base_url=base)
            user = "agent" if k % 2 == 0 else "chief"
            await c.post("/staff/login", data={"username": user, "password": creds[user]})
            page = (await c.get("/staff")).text
            csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
            await c.post("/staff/presence", data={"csrf": csrf, "state": "online"})  # offered chats, round-robin
            agents.append((c, csrf))
        await load(open_conv, n_res, 20)

        async def agent_work(k: int) -> None:
            c, csrf = agents[k]
            for i in range(k, n_res, n_agents):
                conv = f"hd{tag}-{i:04d}-bench"
                await asyncio.sleep(think)
                await c.post(f"/staff/c/{conv}/claim", data={"csrf": csrf})
                for j in range(per_conv):
                    await asyncio.sleep(think)
                    token = f"reply-{i}-{j}"
                    sent[token] = time.perf_counter()  # from the agent pressing send
                    r = await c.post(f"/staff/c/{conv}/reply", data={"csrf": csrf, "text": token})
                    reply_ms.append((time.perf_counter() - sent[token]) * 1000)
                    if r.status_code >= 400:  # 303 back to the chat is success
                        raise RuntimeError(f"reply failed: {r.status_code}")
                # The resident's own message must reach the console exactly once (the console's long poll).
                after, deadline, wanted = 0, time.perf_counter() + 60, f"resident-{i}"
                while time.perf_counter() < deadline:
                    r = (await c.get(f"/staff/c/{conv}/messages", params={"after": after, "wait": 10})).json()
                    hits = [m for m in r["messages"] if m["text"] == wanted]
                    inbound_seen[wanted] = inbound_seen.get(wanted, 0) + len(hits)
                    after = r["last_id"]
                    if inbound_seen.get(wanted):
                        break

        async def resident(i: int) -> None:
            # As the widget does: a long poll the server holds until a staff message arrives.
            conv, after, deadline = f"hd{tag}-{i:04d}-bench", 0, time.perf_counter() + 180
            got = 0
            while got < per_conv and time.perf_counter() < deadline:
                r = (await pub.get(f"{base}/api/chat/{conv}/messages", params={"after": after, "wait": 25})).json()
                arrived = time.perf_counter()
                for m in r["messages"]:
                    if m["text"].startswith("reply-"):
                        seen[m["text"]] = seen.get(m["text"], 0) + 1
                        if m["text"] in sent:
                            latencies.append((arrived - sent[m["text"]]) * 1000)
                        got += 1
                after = r["last_id"]
                if got and f"resident-{i}" not in inbound_sent:
                    inbound_sent.add(f"resident-{i}")
                    r2 = await pub.post(f"{base}/api/chat", json={"session": conv, "text": f"resident-{i}"})
                    r2.raise_for_status()

        await asyncio.gather(*(agent_work(k) for k in range(n_agents)), *(resident(i) for i in range(n_res)))
        for c, _ in agents:
            await c.aclose()
    total = n_res * per_conv
    return {
        "sent": len(sent),
        "seen": sum(1 for v in seen.values() if v >= 1),
        "lost": total - sum(1 for v in seen.values() if v >= 1),
        "dup": sum(v - 1 for v in seen.values() if v > 1),
        "p50": pct(latencies, 0.5),
        "p95": pct(latencies, 0.95),
        "reply_post_p50": pct(reply_ms, 0.5),
        "reply_post_p95": pct(reply_ms, 0.95),
        "in_sent": len(inbound_sent),
        "in_lost": sum(1 for k in inbound_sent if not inbound_seen.get(k)),
        "in_dup": sum(v - 1 for v in inbound_seen.values() if v > 1),
    }


WECHAT_QUESTIONS = [
    "换身份证要带什么",
    "结婚登记要带什么材料",
    "公积金租房怎么提取",
    "小孩出生了怎么上户口",
    "社保卡丢了怎么补",
    "驾驶证到期了怎么换",
    "高龄补贴怎么申请",
    "城乡居民医保怎么交",
    "二手房过户要带什么",
    "开个体户要办什么手续",
]


def bench_wechat() -> None:
    import hashlib

    import xmltodict
    from wechatpy.crypto import WeChatCrypto

    token, appid, secret = "benchtoken", "wxbench000000001", "bench-secret"
    aes_key = "benchAESkey0123456789abcdefghijklmnopqrstuv"  # 43 characters, as WeChat issues them
    crypto = WeChatCrypto(token, aes_key, appid)
    env = {
        "MENPAI_WECHAT_TOKEN": token,
        "MENPAI_WECHAT_AES_KEY": aes_key,
        "MENPAI_WECHAT_APPID": appid,
        "MENPAI_WECHAT_SECRET": secret,
        "MENPAI_WECHAT_API_BASE": "fake",
    }
    with ExitStack() as stack:
        s = start_stack(stack, fresh(OUT / "wechat-run"), rasa=True, env=env)
        base = s["base"]

        def safe(plain: str) -> tuple[dict[str, str], str]:
            """URL parameters and body as WeChat sends a message in safe mode: signed afresh (a
            fresh timestamp and nonce, or /wechat refuses it as a replay), AES-encrypted."""
            ts, nonce = str(int(time.time())), uuid.uuid4().hex[:16]
            sig = hashlib.sha1("".join(sorted([token, ts, nonce])).encode()).hexdigest()
            envelope = xmltodict.parse(crypto.encrypt_message(plain, nonce, ts))["xml"]
            params = {
                "signature": sig,
                "timestamp": ts,
                "nonce": nonce,
                "encrypt_type": "aes",
                "msg_signature": envelope["MsgSignature"],
            }
            return params, xmltodict.unparse({"xml": {"ToUserName": "gh_bench", "Encrypt": envelope["Encrypt"]}})

        def opened(reply: str) -> str:
            """The reply XML inside the encrypted reply (``success`` as it is)."""
            if reply == "success":
                return reply
            out = xmltodict.parse(reply)["xml"]
            return str(crypto.decrypt_message(reply, out["MsgSignature"], out["TimeStamp"], out["Nonce"]))

        async def post(c: httpx.AsyncClient, plain: str) -> httpx.Response:
            params, body = safe(plain)
            return await c.post(f"{base}/wechat", params=params, content=body)

        def xml(openid: str, msg_id: int, text: str) -> str:
            return (
                f"<xml><ToUserName><![CDATA[gh_bench]]></ToUserName><FromUserName><![CDATA[{openid}]]>"
                f"</FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType>"
                f"<Content><![CDATA[{text}]]></Content><MsgId>{msg_id}</MsgId></xml>"
            )

        async def run() -> tuple[list[float], int, int]:
            async with httpx.AsyncClient(timeout=30) as c:

                async def send(i: int) -> None:
                    # Each sender asks about a different service each time, as residents do.
                    r = await post(c, xml(f"oBench{i % 20:03d}", 10_000 + i, WECHAT_QUESTIONS[(i // 20) % 10]))
                    r.raise_for_status()

                # One message first, as in the chat bench: the first turn of a freshly started
                # Rasa and web runs code paths for the first time.
                warm = await post(c, xml("oBenchWarm", 1, WECHAT_QUESTIONS[0]))
                warm.raise_for_status()
                _, lat = await load(send, 200, 20)
                # Retry storm: the same 20 messages, each posted 5 times at once.
                replies: dict[int, set[str]] = {}

                async def retry(i: int) -> None:
                    msg = 50_000 + i // 5
                    # WeChat signs each retry afresh; the MsgId is what repeats.
                    r = await post(c, xml(f"oStorm{msg}", msg, "结婚登记要带什么"))
                    reply = opened(r.text)
                    if reply != "success":
                        # The answer, not the envelope: a retry's reply XML carries its own CreateTime.
                        content = re.search(r"<Content><!\[CDATA\[(.*?)\]\]></Content>", reply, re.S)
                        replies.setdefault(msg, set()).add(content.group(1) if content else reply)

                await load(retry, 100, 20)
                different = sum(1 for v in replies.values() if len(v) > 1)

                # Safe mode, as most official accounts run (and, with an EncodingAESKey configured,
                # the only mode /wechat accepts): every message AES-encrypted and signed
                # (msg_signature), every reply encrypted back. The sections above send so too.
                safe_answers: list[str] = []

                async def send_safe(i: int) -> None:
                    r = await post(c, xml(f"oSafe{i % 20:03d}", 90_000 + i, WECHAT_QUESTIONS[(i // 20) % 10]))
                    r.raise_for_status()
                    if r.text != "success":
                        safe_answers.append(opened(r.text))

                _, safe_lat = await load(send_safe, 200, 20)
                return lat, different, len(replies), safe_lat, sum(1 for a in safe_answers if "<Content>" in a)

        lat, different, answered, safe_lat, safe_answered = asyncio.run(run())
        from sqlalchemy import create_engine, text

        with create_engine(f"sqlite:///{s['var'] / 'menpai.db'}").connect() as conn:
            left_bot = conn.execute(
                text("SELECT count(*) FROM conversations WHERE id LIKE 'wx-oBench%' AND mode != 'bot'")
            ).scalar()
            stored = conn.execute(
                text("SELECT count(*) FROM messages WHERE role = 'resident' AND conversation_id LIKE '%oStorm%'")
            ).scalar()
        RESULTS["wechat"] = {
            "p50": pct(lat, 0.5),
            "p95": pct(lat, 0.95),
            "storm_messages": 20,
            "storm_inconsistent_replies": different,
            "storm_resident_messages_stored": stored,
            "senders_left_bot": left_bot,
            "safe_mode_p50": pct(safe_lat, 0.5),
            "safe_mode_p95": pct(safe_lat, 0.95),
            "safe_mode_answered": safe_answered,
        }
        section(
            "WeChat /wechat, real Rasa behind it, fake WeChat API",
            [
                ("20 concurrent senders, 200 messages: p50 / p95", f"{pct(lat, 0.5)} ms / {pct(lat, 0.95)} ms"),
                (
                    "retry storm: 20 messages × 5 identical posts",
                    f"{answered} answered, {different} with differing answers, {stored} resident messages stored",
                ),
                ("senders whose chat left the bot for the staff queue (should be 0)", left_bot),
                (
                    "safe mode (AES), 20 concurrent senders, 200 messages: p50 / p95",
                    f"{pct(safe_lat, 0.5)} ms / {pct(safe_lat, 0.95)} ms ({safe_answered} of 200 answered passively, decrypted)",
                ),
            ],
            "Every retry of a MsgId returns the stored reply (or `success` while it is being made); "
            "the de-duplication row is claimed with a primary-key insert.",
        )


SECTIONS = {
    "retrieval": bench_retrieval,
    "crossval": bench_crossval,
    "scale": bench_scale,
    "nlu": bench_nlu,
    "chat": bench_chat,
    "web": bench_web,
    "helpdesk": bench_helpdesk,
    "wechat": bench_wechat,
}


def main() -> int:
    """Run the named sections (default: all); results.md always shows the latest run of every section."""
    logging.basicConfig(level=logging.WARNING)
    parts = OUT / "sections"
    parts.mkdir(parents=True, exist_ok=True)
    chosen = sys.argv[1:] or list(SECTIONS)
    unknown = [n for n in chosen if n not in SECTIONS]
    if unknown:
        print(f"unknown section(s) {unknown}; choose from {list(SECTIONS)}", file=sys.stderr)
        return 2
    for name in chosen:
        LINES.clear()
        started = time.strftime("%Y-%m-%d %H:%M")
        try:
            SECTIONS[name]()
        except Exception as exc:  # one failed section must not hide the others' numbers
            logging.exception("bench section %s failed", name)
            LINES.append(f"## {name}: FAILED — {exc!r}\n")
        (parts / f"{name}.md").write_text(f"<!-- measured {started} -->\n" + "\n".join(LINES) + "\n", encoding="utf-8")
    body = [
        f"# menpai benchmarks on {os.cpu_count()} cores (each section: its latest run, time in its first line)\n",
        *((parts / f"{n}.md").read_text(encoding="utf-8") for n in SECTIONS if (parts / f"{n}.md").exists()),
    ]
    (OUT / "results.md").write_text("\n".join(body), encoding="utf-8")
    previous = json.loads((OUT / "results.json").read_text()) if (OUT / "results.json").exists() else {}
    previous.update(RESULTS)
    (OUT / "results.json").write_text(json.dumps(previous, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"\nwritten: {OUT / 'results.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
