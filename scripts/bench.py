"""`make bench`: accuracy, latency, throughput and memory, written to var/bench/.

Sections (run all, or name some: retrieval crossval scale nlu chat web helpdesk wechat plates scaleout):
  retrieval  eval of each retriever on ../shared/eval/dev.yaml, shipped index build time, RSS
  scale      a synthetic 10,000-item corpus: build time, warm query p50/p95, RSS
  nlu        Rasa NLU intent macro-F1 on a held-out 20 % split
  chat       chat turns web → Rasa → actions at 1 and 10 concurrent sessions; Rasa RSS
  web        plate page and /api/ask throughput and p95 under concurrency; page weight
  helpdesk   200 resident conversations, 10 agents: lost/duplicated messages, delivery p95, first response (SQLite, PostgreSQL)
  wechat     /wechat p95 with 20 concurrent senders; duplicate replies under a retry storm
  plates     10,000 printable plates (PDF) vs the qrcode library alone
  scaleout   2 web copies vs 1 behind nginx; staff reply delivery across copies (PostgreSQL NOTIFY)
Every section reports ratios to anchors measured in the same run, interleaved; results.md leads with them.
  faults     30 residents × 6 turns while Rasa, the action server and web are killed (-9); SQLite and PostgreSQL
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


# Ratios to anchors measured in the same run, interleaved: results.md leads with them. Absolute
# times on a shared 2-core machine swing 3-5x from day to day; a ratio to an anchor measured
# beside it does not (much).
RATIOS: list[dict[str, Any]] = []


def ratio_text(values: list[float], percent: bool = False) -> str:
    vals = sorted(values)
    if not vals:
        return "—"

    def f(v: float) -> str:
        return f"{v * 100:.1f} %" if percent else f"{v:.2f}"

    med = vals[len(vals) // 2]
    return f(med) if len(vals) == 1 else f"{f(med)} (range {f(vals[0])}–{f(vals[-1])}, {len(vals)} rounds)"


def ratio(what: str, anchor: str, values: list[float], *, goal: str = "", percent: bool = False) -> str:
    """Record one ratio (a value per interleaved round) for the table results.md leads with."""
    RATIOS.append(
        {"what": what, "anchor": anchor, "values": [round(v, 4) for v in values], "goal": goal, "percent": percent}
    )
    return ratio_text(values, percent)


def ratio_table(parts: Path, names: list[str]) -> list[str]:
    lines = [
        "## Ratios to anchors measured in the same run\n",
        "| section | subject ÷ anchor | ratio: median (range over interleaved rounds) | goal | measured |",
        "|---|---|---|---|---|",
    ]
    for name in names:
        f = parts / f"{name}.ratios.json"
        if not f.exists():
            continue
        data = json.loads(f.read_text(encoding="utf-8"))
        for r in data["rows"]:
            lines.append(
                f"| {name} | {r['what']} ÷ {r['anchor']} | {ratio_text(r['values'], r['percent'])} | "
                f"{r['goal'] or '—'} | {data['measured']} |"
            )
    return [*lines, "", "Absolute numbers follow, each section with the time it was measured.\n"]


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
    bm25s_s = _bm25s_alone(out)
    build_ratio = ratio("index build (`menpai index build`)", "bm25s alone on the same tokens", [build_s / bm25s_s])
    kb = KnowledgeBase(lib, load_index(out, lib), settings)
    rep = report(kb, load_eval_set(EVAL))
    (OUT / "eval-dev.json").write_text(json.dumps(rep, ensure_ascii=False, indent=2), encoding="utf-8")
    RESULTS["retrieval"] = {k: v for k, v in rep.items() if k != "results"}
    hy = rep["by_retriever"]["hybrid"]
    section(
        "Retrieval on ../shared/eval/dev.yaml (160 questions) — offline default embedder",
        [
            ("index build, shipped guides", f"{build_s} s"),
            ("anchor: bm25s alone indexing the same entries' tokens", f"{bm25s_s:.2f} s"),
            ("**index build ÷ bm25s alone**", f"**{build_ratio}** (the rest: the dense domain model and calibration)"),
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


def _bm25s_alone(index_dir: Path) -> float:
    """Seconds for bm25s alone to index the entries' tokens as the build saved them (the anchor of a build)."""
    import bm25s

    from knowledge.index.tokenizer import TokenizedCorpus

    corpus = TokenizedCorpus.load(index_dir / "tokens.npz")
    docs = [corpus.tokens(i) or ["_"] for i in range(len(corpus))]
    started = time.perf_counter()
    bm25s.BM25(k1=1.2, b=0.6).index(docs, show_progress=False)
    return time.perf_counter() - started


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
    cv = cross_validate(lib, work=OUT / "cv-folds")
    cv_s = round(time.perf_counter() - started, 1)
    (OUT / "crossval.json").write_text(json.dumps(cv, ensure_ascii=False, indent=2), encoding="utf-8")
    kb = KnowledgeBase.open(settings)
    dev = report(kb, load_eval_set(EVAL), ["hybrid"])
    # The shipped confidence is the calibration fitted on the folds: its nested figures are the
    # folds' (each fold scored by a fit on the others); without one, the folds' own calibrations.
    fitted = cv.get("fold_calibration")
    pooled = {**cv["pooled"], **fitted["nested"]} if fitted else cv["pooled"]
    RESULTS["crossval"] = {"cv": {k: v for k, v in cv.items() if k != "by_fold"}, "dev": dev["by_retriever"]["hybrid"]}
    rows = [
        ("folds (each rebuilt without its asks and a slice of the topics)", ", ".join(cv["folds"])),
        (
            "threshold chosen on the folds (calibration fitted on the folds) / shipped",
            f"{fitted['threshold'] if fitted else cv['chosen_threshold']} / {kb.retriever.config.abstain_threshold}",
        ),
        ("folds: hit@1 / hit@3", f"{pooled['hit_at_1']} / {pooled['hit_at_3']}"),
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
        info["rasa_url"] = bot.url
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
        share = _chat_share(base, s["rasa_url"])
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
            "share": share,
        }
        web_share = ratio(
            "web's share of a chat turn at 10 concurrent sessions (1 − rasa/web, mean latency)",
            "the same messages and metadata straight to Rasa's REST channel",
            share["share"],
            goal="≤ 15 %",
            percent=True,
        )
        section(
            "Chat turns web → Rasa → actions (real processes, loopback)",
            [
                ("1 session: p50 / p95", f"{pct(one, 0.5)} ms / {pct(one, 0.95)} ms"),
                ("10 concurrent sessions: p50 / p95", f"{pct(ten, 0.5)} ms / {pct(ten, 0.95)} ms"),
                ("**web's share of a turn at 10 sessions (1 − Rasa direct ÷ through web)**", f"**{web_share}**"),
                (
                    "the same, pooled over the rounds (1 − Σ Rasa direct ÷ Σ through web)",
                    f"{(1 - sum(share['rasa_mean']) / sum(share['web_mean'])) * 100:.1f} %",
                ),
                (
                    "by round: through web / straight to Rasa, mean (p95) ms",
                    " · ".join(
                        f"{w} ({wp}) / {r} ({rp})"
                        for w, wp, r, rp in zip(
                            share["web_mean"], share["web_p95"], share["rasa_mean"], share["rasa_p95"], strict=True
                        )
                    ),
                ),
                ("Rasa server peak RSS", f"{rss} MB"),
                ("turns handed to staff instead of Rasa (should be 0)", len(left_bot)),
                (
                    "public dialogues (`menpai eval-chat ../shared/eval/dialogues.yaml`): dialogues / turns passed",
                    f"{dialogues['dialogues_passed']}/{dialogues['dialogues']} / "
                    f"{dialogues['turns_passed']}/{dialogues['turns']}",
                ),
            ],
            "Each session walks through 换身份证要带什么 → 那要多少钱 → 在哪里办 → 结婚登记要带什么 → 公积金租房怎么提取; "
            "for the share, 4 walks a resident a round (200 turns a side), the two sides in ABBA order.",
        )


CHAT_WALK = ["换身份证要带什么", "那要多少钱", "在哪里办", "结婚登记要带什么", "公积金租房怎么提取"]


def _chat_share(
    base: str, rasa_url: str, rounds: int = 6, sessions: int = 10, walks: int = 4
) -> dict[str, list[float]]:
    """Web's own share of a chat turn: 10 residents walk CHAT_WALK through web's /api/chat, then
    10 others send the same messages with the same metadata straight to Rasa's REST channel (the
    anchor: what web adds is retrieval, storage, rendering and HTTP), in turns, ``rounds`` times;
    each resident walks ``walks`` times a round (200 turns a side: 50 moved the share by ±15 points)."""
    from knowledge.service import KnowledgeBase
    from web.chat.turn import turn_metadata

    kb = KnowledgeBase.open(Settings())
    run_id = uuid.uuid4().hex[:6]

    def items(reply: list[dict[str, Any]]) -> str | None:
        found = [m["custom"].get("item") for m in reply if isinstance(m.get("custom"), dict)]
        return next((i for i in found if i), None)

    # The metadata web sends at each step: retrieval of the words, and the item talked about so
    # far (learnt from one walk straight to Rasa, not timed).
    steps: list[dict[str, Any]] = []
    item: str | None = None
    for text in CHAT_WALK:
        meta = turn_metadata(kb, text, "NA010001", item)[1].to_metadata()
        steps.append(meta)
        r = httpx.post(
            f"{rasa_url}/webhooks/rest/webhook",
            json={"sender": f"learn-{run_id}", "message": text, "metadata": meta},
            timeout=30,
        )
        item = items(r.json()) or item

    async def walk(n_round: int, direct: bool) -> list[float]:
        lat: list[float] = []
        async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=sessions + 5)) as c:

            async def resident(n: int) -> None:
                for walk_n in range(walks):  # each walk a new conversation
                    who = f"share-{run_id}-{n_round}-{'r' if direct else 'w'}-{n:02d}-{walk_n}"
                    for text, meta in zip(CHAT_WALK, steps, strict=True):
                        t = time.perf_counter()
                        if direct:
                            body = {"sender": who, "message": text, "metadata": meta}
                            r = await c.post(f"{rasa_url}/webhooks/rest/webhook", json=body)
                        else:
                            r = await c.post(
                                f"{base}/api/chat", json={"session": who, "text": text, "plate": "NA010001"}
                            )
                        r.raise_for_status()
                        lat.append((time.perf_counter() - t) * 1000)

            await asyncio.gather(*(resident(n) for n in range(sessions)))
        return lat

    out: dict[str, list[float]] = {"share": [], "web_mean": [], "rasa_mean": [], "web_p95": [], "rasa_p95": []}
    asyncio.run(walk(-1, False))  # warm both paths
    asyncio.run(walk(-1, True))
    for n in range(rounds):
        # ABBA: Rasa slows as its tracker store grows and the machine's load drifts; alternating
        # which path goes first cancels a steady drift instead of charging it to one side.
        by_side = {direct: asyncio.run(walk(n, direct)) for direct in ((False, True) if n % 2 == 0 else (True, False))}
        web, rasa = by_side[False], by_side[True]
        w, r = sum(web) / len(web), sum(rasa) / len(rasa)
        out["share"].append(1 - r / w)
        out["web_mean"].append(round(w, 1))
        out["rasa_mean"].append(round(r, 1))
        out["web_p95"].append(pct(web, 0.95))
        out["rasa_p95"].append(pct(rasa, 0.95))
    return out


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


def bench_web(rounds: int = 3, seconds: int = 6) -> None:
    """Plate page vs a bare FastAPI app serving the same bytes (and nginx serving them as a file,
    the ceiling); /api/ask vs the retriever called in-process. Subject and anchors take turns."""
    import gzip

    from knowledge.service import KnowledgeBase
    from scripts.stack import start_nginx

    with ExitStack() as stack:
        run = fresh(OUT / "web-run")
        s = start_stack(stack, run, rasa=False)
        base = s["base"]
        plate_url = f"{base}/p/NA010001"
        html = httpx.get(plate_url).text
        assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', html)
        weight = len(html.encode()) + sum(len(httpx.get(base + a).content) for a in assets)
        gz = len(gzip.compress(html.encode())) + sum(len(gzip.compress(httpx.get(base + a).content)) for a in assets)
        # The anchors serve the very bytes the plate page serves.
        page = httpx.get(plate_url).content
        page_file = run / "plate.html"
        page_file.write_bytes(page)
        bare_port = free_port()
        stack.enter_context(
            process(
                [str(ROOT / ".venv/bin/python"), str(ROOT / "scripts/bare_app.py"), str(page_file), str(bare_port)],
                ready=f"http://127.0.0.1:{bare_port}/p/NA010001",
                log=run / "bare.log",
            )
        )
        static = run / "static" / "p"
        static.mkdir(parents=True)
        (static / "NA010001").write_bytes(page)
        nginx_port = free_port()
        start_nginx(
            stack,
            run / "nginx",
            f"server {{ listen 127.0.0.1:{nginx_port}; root {run / 'static'}; "
            'location /p/ { default_type "text/html; charset=utf-8"; add_header Cache-Control no-cache; } }',
            ready=f"http://127.0.0.1:{nginx_port}/p/NA010001",
            workers=1,  # one process, as the app and the anchor
        )
        urls = {
            "bare": f"http://127.0.0.1:{bare_port}/p/NA010001",
            "plate": plate_url,
            "nginx": f"http://127.0.0.1:{nginx_port}/p/NA010001",
        }
        for url in urls.values():
            wrk(url, seconds=2)  # warm
        runs: dict[str, list[dict[str, Any]]] = {k: [] for k in urls}
        for _ in range(rounds):
            for name, url in urls.items():
                runs[name].append(wrk(url, seconds=seconds))
        plate_gz = wrk(plate_url, seconds=seconds, gzip=True)

        # /api/ask against the retriever in this process, on the same question, taking turns.
        kb = KnowledgeBase.open(Settings())
        question = "换身份证要带什么"
        body = json.dumps({"q": question, "plate": "NA010001"})
        wrk(f"{base}/api/ask", seconds=2, body=body)
        for _ in range(50):
            kb.retriever.search(question)
        asks: list[dict[str, Any]] = []
        inproc: list[float] = []
        for _ in range(rounds):
            asks.append(wrk(f"{base}/api/ask", seconds=seconds, body=body))
            n, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < 3:
                kb.retriever.search(question)
                n += 1
            inproc.append(n / (time.perf_counter() - t0))

        def by_round(a: str, b: str) -> list[float]:
            return [x["rps"] / y["rps"] for x, y in zip(runs[a], runs[b], strict=True) if y["rps"]]

        r_bare = ratio("plate page req/s", "bare FastAPI app, same bytes", by_round("plate", "bare"), goal="≥ 0.8")
        r_nginx = ratio(
            "plate page req/s", "nginx serving the bytes as a file (the ceiling)", by_round("plate", "nginx")
        )
        r_anchor = ratio("bare FastAPI app req/s", "nginx static file", by_round("bare", "nginx"))
        r_ask = ratio(
            "/api/ask req/s (wrk, 20 connections)",
            "retriever.search in-process, one thread (searches/s)",
            [a["rps"] / i for a, i in zip(asks, inproc, strict=True)],
        )
        RESULTS["web"] = {
            "plate_vs_bare": by_round("plate", "bare"),
            "plate_vs_nginx": by_round("plate", "nginx"),
            "runs": runs,
            "plate_gzip": plate_gz,
            "ask": asks,
            "retriever_inproc_per_s": inproc,
            "page_bytes": weight,
            "page_gzip_bytes": gz,
            "web_rss_mb": pid_rss_mb(s["web_pid"]),
        }

        def row(rs: list[dict[str, Any]]) -> str:
            return " · ".join(f"{r['rps']} req/s, p95 {r['p95_ms']} ms ({r['errors']} err)" for r in rs)

        section(
            f"Plate page and /api/ask (wrk, 20 connections, {seconds} s a run, {rounds} interleaved rounds; one web process)",
            [
                ("**plate page ÷ bare FastAPI app serving the same bytes**", f"**{r_bare}**"),
                ("plate page ÷ nginx serving the same bytes as a file", r_nginx),
                ("bare FastAPI app ÷ nginx", r_anchor),
                ("**/api/ask ÷ retriever in-process**", f"**{r_ask}**"),
                ("bare FastAPI app, same uvicorn, same bytes (anchor), by round", row(runs["bare"])),
                ("plate page /p/NA010001, by round", row(runs["plate"])),
                ("nginx static file (1 worker), by round", row(runs["nginx"])),
                ("plate page, Accept-Encoding: gzip", row([plate_gz])),
                ("/api/ask 换身份证要带什么, by round", row(asks)),
                ("retriever.search in-process, by round", " · ".join(f"{v:.0f}/s" for v in inproc)),
                ("plate page first-load weight (HTML+CSS+JS)", f"{weight / 1024:.1f} KB ({gz / 1024:.1f} KB gzipped)"),
                ("web process peak RSS", f"{pid_rss_mb(s['web_pid'])} MB"),
            ],
            "wrk runs on the same 2 cores as the servers. A scan is queued and written in batches; a cached "
            "plate page is answered before routing (`PlateFastPath`). Each round runs bare, plate, nginx in turn.",
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

        async def versus_chat(rounds: int = 2) -> dict[str, list[float]]:
            """The anchor of a WeChat message: the same questions as chat turns through /api/chat,
            20 residents at once, taking turns with 20 WeChat senders."""
            out: dict[str, list[float]] = {"ratio": [], "wechat_p50": [], "chat_p50": []}
            async with httpx.AsyncClient(timeout=30) as c:
                for n in range(rounds):

                    async def wx(i: int, n: int = n) -> None:
                        msg = 200_000 + n * 1000 + i
                        r = await post(c, xml(f"oVs{n}{i % 20:03d}", msg, WECHAT_QUESTIONS[(i // 20) % 10]))
                        r.raise_for_status()

                    async def chat(i: int, n: int = n) -> None:
                        r = await c.post(
                            f"{base}/api/chat",
                            json={"session": f"vs-{n}-{i % 20:03d}", "text": WECHAT_QUESTIONS[(i // 20) % 10]},
                        )
                        r.raise_for_status()

                    _, wl = await load(wx, 200, 20)
                    _, cl = await load(chat, 200, 20)
                    out["wechat_p50"].append(pct(wl, 0.5))
                    out["chat_p50"].append(pct(cl, 0.5))
                    out["ratio"].append(pct(wl, 0.5) / max(pct(cl, 0.5), 0.1))
            return out

        lat, different, answered, safe_lat, safe_answered = asyncio.run(run())
        vs = asyncio.run(versus_chat())
        vs_text = ratio("WeChat message p50 (safe mode, 20 senders)", "a chat turn p50 (20 residents)", vs["ratio"])
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
            "vs_chat": vs,
        }
        section(
            "WeChat /wechat, real Rasa behind it, fake WeChat API",
            [
                ("**WeChat message ÷ chat turn, p50 at 20 at once**", f"**{vs_text}**"),
                (
                    "by round: WeChat p50 / chat turn p50",
                    " · ".join(f"{w} / {c} ms" for w, c in zip(vs["wechat_p50"], vs["chat_p50"], strict=True)),
                ),
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


def bench_plates(n: int = 10_000) -> None:
    """10,000 printable plates (PDF, `menpai plates make --plates`) vs the qrcode library alone
    making the same 10,000 codes; anchor, plates, anchor."""
    import qrcode
    from qrcode.constants import ERROR_CORRECT_H

    from knowledge.library import load_library
    from web.urls import Urls

    settings = Settings()
    lib = load_library(settings.guides_path, settings.catalogue)
    base = list(lib.plates.values())
    work = fresh(OUT / "plates-run")
    work.mkdir(parents=True)
    csv = work / "plates-10k.csv"
    rows = ["code,town,community,address,building,lng,lat"]
    for i in range(n):
        p = base[i % len(base)]
        rows.append(f"SY{i:06d},{p.town},{p.community},{p.address}{i},{p.building},{p.lng},{p.lat}")
    csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    urls = [Urls(settings.public_base_url).qr(f"SY{i:06d}") for i in range(n)]

    def qrcode_alone() -> float:
        started = time.perf_counter()
        for url in urls:
            qr = qrcode.QRCode(error_correction=ERROR_CORRECT_H)
            qr.add_data(url)
            qr.make(fit=True)
        return time.perf_counter() - started

    def plates() -> float:
        started = time.perf_counter()
        subprocess.run(
            [
                str(ROOT / ".venv/bin/menpai"),
                "plates",
                "make",
                "--plates",
                str(csv),
                "--out",
                str(work / "plates.pdf"),
                "--quiet",
            ],
            check=True,
            capture_output=True,
        )
        return time.perf_counter() - started

    anchor1 = qrcode_alone()
    made = plates()
    anchor2 = qrcode_alone()
    r = ratio(
        f"{n:,} plates as a PDF (`menpai plates make`)",
        f"qrcode alone making the same {n:,} codes",
        [made / ((anchor1 + anchor2) / 2)],
        goal="≤ 3",
    )
    size = (work / "plates.pdf").stat().st_size
    RESULTS["plates"] = {
        "n": n,
        "pdf_s": round(made, 1),
        "qrcode_s": [round(anchor1, 1), round(anchor2, 1)],
        "pdf_mb": round(size / 2**20, 1),
    }
    section(
        f"Door plates: {n:,} printable plates (PDF) vs the qrcode library alone",
        [
            ("**plates PDF ÷ qrcode alone (mean of the anchor before and after)**", f"**{r}**"),
            ("`menpai plates make --plates plates-10k.csv` (a process of its own, start-up included)", f"{made:.1f} s"),
            (
                "qrcode alone (QRCode(H).add_data(url).make(fit=True)), before / after",
                f"{anchor1:.1f} s / {anchor2:.1f} s",
            ),
            ("PDF", f"{size / 2**20:.1f} MB, {n // 4:,} A4 pages, codes drawn as vector paths"),
        ],
    )


def bench_scaleout(rounds: int = 3, seconds: int = 6) -> None:
    """Two web copies on PostgreSQL behind nginx: plate-page throughput of 2 copies vs 1 behind the
    same nginx, and staff reply → resident delivery when another copy holds the long poll (NOTIFY)
    vs when the same copy does (the anchor)."""
    from sqlalchemy import create_engine, text

    from scripts.stack import scale_servers, start_nginx
    from web.db.engine import make_engine
    from web.db.store import Store
    from web.db.tables import StaffRole
    from web.helpdesk.auth import hash_password

    schema = f"bench_scale_{uuid.uuid4().hex[:8]}"
    with create_engine(PG_URL).begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    db_url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    store = Store(make_engine(db_url))
    store.migrate()
    password = "bench-scale-password-" + uuid.uuid4().hex[:8]
    store.staff.add("agent", "值班员", StaffRole.AGENT, hash_password(password))
    store.engine.dispose()
    secret = "bench-scale-secret-" + uuid.uuid4().hex
    run = fresh(OUT / "scale-run")
    with ExitStack() as stack:
        webs = []
        for n in (1, 2):
            env = {"MENPAI_DATABASE_URL": db_url, "MENPAI_SECRET_KEY": secret, "MENPAI_INSTANCE_NAME": f"web-{n}"}
            webs.append(start_stack(stack, run / f"web-{n}", rasa=False, env=env)["base"])
        one, two = free_port(), free_port()
        servers = scale_servers(two, webs) + "\n  " + scale_servers(one, webs[:1]).replace("menpai_web", "menpai_one")
        start_nginx(stack, run / "nginx", servers, ready=f"http://127.0.0.1:{two}/healthz")
        front = {"1 copy": f"http://127.0.0.1:{one}/p/NA010001", "2 copies": f"http://127.0.0.1:{two}/p/NA010001"}
        for url in front.values():
            wrk(url, seconds=2)
        tput: dict[str, list[dict[str, Any]]] = {k: [] for k in front}
        for _ in range(rounds):
            for name, url in front.items():
                tput[name].append(wrk(url, seconds=seconds))
        gain = [b["rps"] / a["rps"] for a, b in zip(tput["1 copy"], tput["2 copies"], strict=True) if a["rps"]]
        delivery = asyncio.run(_cross_copy_delivery(webs, password))
    with create_engine(PG_URL).begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    r_gain = ratio("plate page req/s through nginx, 2 web copies", "1 copy behind the same nginx", gain)
    r_cross = ratio(
        "staff reply → resident delivery p95, long poll held by the other copy (NOTIFY)",
        "the same copy",
        [delivery["cross_p95"] / max(delivery["same_p95"], 0.1)],
        goal="cross-copy p95 ≤ 300 ms",
    )

    def row(rs: list[dict[str, Any]]) -> str:
        return " · ".join(f"{r['rps']} req/s, p95 {r['p95_ms']} ms" for r in rs)

    RESULTS["scaleout"] = {"throughput": tput, "gain": gain, "delivery": delivery}
    section(
        "Scale-out: 2 web copies on PostgreSQL behind nginx (1 worker), wrk 20 connections",
        [
            ("**2 copies ÷ 1 copy, plate page req/s**", f"**{r_gain}**"),
            ("1 copy behind nginx, by round", row(tput["1 copy"])),
            ("2 copies behind nginx, by round", row(tput["2 copies"])),
            ("**delivery across copies p50 / p95**", f"**{delivery['cross_p50']} / {delivery['cross_p95']} ms**"),
            ("delivery on the same copy p50 / p95 (anchor)", f"{delivery['same_p50']} / {delivery['same_p95']} ms"),
            ("cross-copy ÷ same-copy p95", r_cross),
            ("replies delivered / sent", f"{delivery['seen']} / {delivery['sent']}"),
        ],
        "2 cores run wrk, nginx and both copies: a second copy adds a process but no core, so throughput "
        "is bound by the CPU the machine has (each copy is one Python process; on N machines each copy has its own).",
    )


async def _cross_copy_delivery(webs: list[str], password: str, convs: int = 10, replies: int = 10) -> dict[str, Any]:
    """Residents long-poll web-1; staff reply through web-2 (across copies) or web-1 (same copy), in turns."""
    latencies: dict[str, list[float]] = {"cross": [], "same": []}
    sent = seen = 0
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=100)) as pub:
        staff = {}
        for name, url in (("same", webs[0]), ("cross", webs[1])):
            c = httpx.AsyncClient(base_url=url, timeout=60)
            await c.post("/staff/login", data={"username": "agent", "password": password})
            page = (await c.get("/staff")).text
            staff[name] = (c, re.search(r'name="csrf" value="([^"]+)"', page).group(1))  # type: ignore[union-attr]
        run_id = uuid.uuid4().hex[:6]

        async def conversation(i: int) -> None:
            nonlocal sent, seen
            conv = f"scale-{run_id}-{i:02d}"
            r = await pub.post(f"{webs[0]}/api/chat", json={"session": conv, "text": "我要人工"})
            r.raise_for_status()
            c, csrf = staff["cross"]
            await c.post(f"/staff/c/{conv}/claim", data={"csrf": csrf})
            after = (await pub.get(f"{webs[0]}/api/chat/{conv}/messages")).json()["last_id"]
            for j in range(replies):
                kind = "cross" if (i + j) % 2 else "same"
                token = f"r-{i}-{j}"
                poll = asyncio.create_task(
                    pub.get(f"{webs[0]}/api/chat/{conv}/messages", params={"after": after, "wait": 20})
                )
                await asyncio.sleep(0.3)  # the long poll is held
                c, csrf = staff[kind]
                t = time.perf_counter()
                sent += 1
                await c.post(f"/staff/c/{conv}/reply", data={"csrf": csrf, "text": token})
                got = (await poll).json()
                if any(m["text"] == token for m in got["messages"]):
                    latencies[kind].append((time.perf_counter() - t) * 1000)
                    seen += 1
                after = got["last_id"]

        await asyncio.gather(*(conversation(i) for i in range(convs)))
        for c, _ in staff.values():
            await c.aclose()
    return {
        "sent": sent,
        "seen": seen,
        "cross_p50": pct(latencies["cross"], 0.5),
        "cross_p95": pct(latencies["cross"], 0.95),
        "same_p50": pct(latencies["same"], 0.5),
        "same_p95": pct(latencies["same"], 0.95),
    }


# ---------------------------------------------------------------- faults: parts killed during a run

FAULT_TEXTS = [
    "换身份证要带什么",
    "那要多少钱",
    "在哪里办",
    "结婚登记要带什么",
    "公积金租房怎么提取",
    "社保卡丢了怎么补",
]


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0).status_code < 500
    except httpx.HTTPError:
        return False


def _whole(urls: dict[str, str]) -> bool:
    """Every process answers, and web sees Rasa up."""
    if not all(_healthy(u) for u in urls.values()):
        return False
    try:
        return bool(httpx.get(urls["web"], timeout=3.0).json().get("rasa") == "up")
    except (httpx.HTTPError, ValueError):
        return False


def _faults_run(name: str, database_url: str = "", app_name: str = "") -> dict[str, Any]:
    """30 residents × 6 named turns while Rasa, then the action server, then web are killed with -9
    (and, with PostgreSQL, web's database connections are terminated); the processes are supervised."""
    import signal
    import threading

    from scripts.stack import ACTIONS_ENV, Supervised, actions_cmd, restart_dead

    tmp = fresh(OUT / f"faults-{name}")
    (tmp / "var").mkdir(parents=True)
    (tmp / "var" / "index").symlink_to(ROOT / "var" / "index")
    aport, rport, wport = free_port(), free_port(), free_port()
    urls = {
        "actions": f"http://127.0.0.1:{aport}/health",
        "rasa": f"http://127.0.0.1:{rport}/webhooks/rest/",
        "web": f"http://127.0.0.1:{wport}/healthz",
    }
    offline = {"HF_HUB_OFFLINE": "1", "PYTHONWARNINGS": "ignore"}
    web_env = {
        **offline,
        "MENPAI_VAR_PATH": str(tmp / "var"),
        "MENPAI_ENVIRONMENT": "test",
        "MENPAI_STAFF_HOURS": "always",
        "MENPAI_RASA_URL": f"http://127.0.0.1:{rport}",
        "MENPAI_RASA_TIMEOUT": "5",
        **{f"MENPAI_RATE_{n.upper()}": "1000000000/60" for n in RATE_DEFAULTS},
    }
    if database_url:
        web_env["MENPAI_DATABASE_URL"] = database_url
    procs = {
        "actions": Supervised(
            "actions", actions_cmd(aport), tmp / "actions.log", cwd=ROOT / "bot", env={**ACTIONS_ENV, **offline}
        ),
        "rasa": Supervised(
            "rasa",
            [str(ROOT / ".venv-bot/bin/python"), str(ROOT / "bot/serve.py")],
            tmp / "rasa.log",
            env={
                **offline,
                "MENPAI_RASA_PORT": str(rport),
                "MENPAI_ACTION_URL": f"http://127.0.0.1:{aport}/webhook",
                "MENPAI_RASA_TRACKER_URL": f"sqlite:///{tmp / 'tracker.db'}",
            },
        ),
        "web": Supervised(
            "web", [str(ROOT / ".venv/bin/menpai"), "serve", "--port", str(wport)], tmp / "web.log", env=web_env
        ),
    }
    stop = threading.Event()

    def supervise() -> None:
        while not stop.is_set():
            restart_dead(list(procs.values()), stop.is_set, backoff=(1,))
            time.sleep(0.2)

    for p in procs.values():
        p.start()
    watcher = threading.Thread(target=supervise, daemon=True)
    watcher.start()
    faults: list[tuple[str, float]] = []
    retries = {"connection": 0, "5xx": 0, "409": 0}
    answered: list[float] = []
    unanswered: list[str] = []
    pg_terminated = 0
    try:
        deadline = time.monotonic() + 600
        while not _whole(urls):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the stack did not start; see {tmp}")
            time.sleep(1)
        base = f"http://127.0.0.1:{wport}"
        run_id = uuid.uuid4().hex[:6]
        # Turn k of every resident starts when phase k begins, so each fault meets turns in flight:
        # 0 all up · 1 Rasa killed · 2 whole again · 3 actions killed · 4 web killed · 5 whole
        # (PostgreSQL: web's connections terminated while turn 5 is in flight).
        phases = [threading.Event() for _ in FAULT_TEXTS]
        phases[0].set()

        async def resident(n: int, client: httpx.AsyncClient) -> None:
            session = f"fault-{run_id}-{n:02d}"
            for turn, text in enumerate(FAULT_TEXTS):
                while not phases[turn].is_set():
                    await asyncio.sleep(0.05)
                await asyncio.sleep((n % 10) * 0.03)
                body = {"session": session, "text": text, "plate": "NA010001", "client_msg_id": f"t{turn}"}
                started = time.monotonic()
                while True:
                    try:
                        r = await client.post(f"{base}/api/chat", json=body)
                    except httpx.TransportError:
                        retries["connection"] += 1
                    else:
                        if r.status_code == 200 and r.json().get("messages"):
                            answered.append(time.monotonic() - started)
                            break
                        retries["5xx" if r.status_code >= 500 else "409"] += 1
                    if time.monotonic() - started > 240:
                        unanswered.append(f"{session} {text}")
                        break
                    await asyncio.sleep(0.5)

        def kill(part: str, phase: int) -> None:
            proc = procs[part].proc
            assert proc is not None
            phases[phase].set()
            time.sleep(0.3)  # the phase's turns are in flight
            os.kill(proc.pid, signal.SIGKILL)
            killed = time.monotonic()
            time.sleep(1.5)  # the supervisor sees it gone
            while not _whole(urls):
                time.sleep(0.5)
            faults.append((f"kill -9 {part}", round(time.monotonic() - killed, 1)))

        def break_db() -> int:
            """pg_terminate_backend on web's own connections (by application_name), none of anyone else's."""
            from sqlalchemy import create_engine, text

            admin = create_engine(PG_URL)
            with admin.begin() as conn:
                n = conn.execute(
                    text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = :a"),
                    {"a": app_name},
                ).scalar()
            admin.dispose()
            return int(n or 0)

        def saboteur() -> None:
            nonlocal pg_terminated
            time.sleep(2)
            kill("rasa", 1)
            phases[2].set()
            time.sleep(2)
            kill("actions", 3)
            time.sleep(1)
            kill("web", 4)
            time.sleep(1)
            phases[5].set()
            if app_name:
                for _ in range(3):  # while turn 5 is in flight: connections in use and idle ones
                    time.sleep(0.15)
                    pg_terminated += break_db()

        async def everyone() -> float:
            t0 = time.monotonic()
            limits = httpx.Limits(max_connections=40)
            async with httpx.AsyncClient(timeout=30, limits=limits) as client:
                chaos = asyncio.create_task(asyncio.to_thread(saboteur))
                await asyncio.gather(*(resident(n, client) for n in range(30)))
                await chaos
            return time.monotonic() - t0

        took = asyncio.run(everyone())
        # Every resident message stored exactly once: read back what the database holds.
        from web.db.engine import make_engine
        from web.db.store import Store
        from web.db.tables import Role

        url = database_url or f"sqlite:///{tmp / 'var' / 'menpai.db'}"
        store = Store(make_engine(url))
        exact = duplicated = missing = 0
        for n in range(30):
            said = [m.text for m in store.conversations.messages(f"fault-{run_id}-{n:02d}") if m.role is Role.RESIDENT]
            exact += said == FAULT_TEXTS
            duplicated += sum(max(0, said.count(t) - 1) for t in FAULT_TEXTS)
            missing += sum(1 for t in FAULT_TEXTS if t not in said)
        store.engine.dispose()
        transcript = subprocess.run(
            [str(ROOT / ".venv/bin/menpai"), "transcript", f"fault-{run_id}-00", "--json"],
            env={**os.environ, **web_env},
            capture_output=True,
            text=True,
            check=False,
        )
        shown = json.loads(transcript.stdout)["messages"] if transcript.returncode == 0 else []
        return {
            "turns": 30 * len(FAULT_TEXTS),
            "answered": len(answered),
            "unanswered": unanswered,
            "sessions_exact": exact,
            "duplicated": duplicated,
            "missing": missing,
            "retries": retries,
            "faults": faults,
            "pg_terminated": pg_terminated,
            "turn_p50": round(pct(answered, 0.5), 2),
            "turn_max": round(max(answered, default=0), 1),
            "seconds": round(took, 1),
            "transcript_resident_lines": sum(1 for m in shown if m["role"] == "resident"),
            "restarts": {k: p.restarts for k, p in procs.items()},
        }
    finally:
        stop.set()
        watcher.join(timeout=5)
        for p in reversed(list(procs.values())):
            p.stop()


def bench_faults() -> None:
    """The stack survives its parts dying: SQLite run, then the PostgreSQL run with broken connections."""
    import uuid as _uuid

    from sqlalchemy import create_engine, text

    runs = {"SQLite": _faults_run("sqlite")}
    schema = f"faults_{_uuid.uuid4().hex[:8]}"
    app_name = f"menpai-faults-{schema}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in PG_URL else "?"
    try:
        runs["PostgreSQL"] = _faults_run(
            "postgresql", f"{PG_URL}{sep}options=-csearch_path%3D{schema}&application_name={app_name}", app_name
        )
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()
    RESULTS["faults"] = runs
    rows: list[tuple[str, Any]] = []
    for label, r in runs.items():
        rows += [
            (f"{label}: turns answered (clients retry connection errors, 5xx, 409)", f"{r['answered']} / {r['turns']}"),
            (
                f"{label}: residents whose 6 messages are stored exactly once, in order",
                f"{r['sessions_exact']} / 30 (duplicates {r['duplicated']}, missing {r['missing']})",
            ),
            (f"{label}: stack whole again after each kill (s)", ", ".join(f"{k} {v}" for k, v in r["faults"])),
            (f"{label}: client retries", ", ".join(f"{k} {v}" for k, v in r["retries"].items())),
            (f"{label}: turn time incl. retries p50 / max (s)", f"{r['turn_p50']} / {r['turn_max']}"),
            (f"{label}: run (s); restarts", f"{r['seconds']}; {r['restarts']}"),
            (f"{label}: `menpai transcript` of one resident, resident lines", r["transcript_resident_lines"]),
        ]
        if label == "PostgreSQL":
            rows.append(("PostgreSQL: web connections terminated (pg_terminate_backend)", r["pg_terminated"]))
    section(
        "Faults: 30 residents × 6 named turns while the parts die",
        rows,
        "Each resident's turn k starts with phase k, so every fault meets turns in flight: kill -9 of Rasa (turn 2 "
        "waits until the stack is whole), then of the action server, then of web (each restarted by the supervisor of "
        "scripts/stack.py); on PostgreSQL, pg_terminate_backend of web's own connections (found by their "
        "application_name) three times while the last turn is in flight. 'Whole' = all three answer and web sees "
        "Rasa up.",
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
    "plates": bench_plates,
    "scaleout": bench_scaleout,
    "faults": bench_faults,
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
        RATIOS.clear()
        started = time.strftime("%Y-%m-%d %H:%M")
        try:
            SECTIONS[name]()
        except Exception as exc:  # one failed section must not hide the others' numbers
            logging.exception("bench section %s failed", name)
            LINES.append(f"## {name}: FAILED — {exc!r}\n")
        (parts / f"{name}.md").write_text(f"<!-- measured {started} -->\n" + "\n".join(LINES) + "\n", encoding="utf-8")
        (parts / f"{name}.ratios.json").write_text(
            json.dumps({"measured": started, "rows": RATIOS}, ensure_ascii=False, indent=1), encoding="utf-8"
        )
    body = [
        f"# menpai benchmarks on {os.cpu_count()} cores (each section: its latest run, time in its first line)\n",
        *ratio_table(parts, list(SECTIONS)),
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
