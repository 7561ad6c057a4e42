"""`make bench`: accuracy, latency and memory, written to var/bench/.

Measures each retrieval part separately (lexical, dense, hybrid) for the domain
embedder and for the packaged base model, the index build, the process memory
with the index loaded, and the Rasa NLU intent F1 on a held-out split.
Nothing here asserts a time: numbers are written to var/bench/results.md.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from knowledge.evaluate import evaluate_parts, load_eval_set, write_report
from knowledge.index import build_index, load_index, packaged_base_model
from knowledge.library import load_library
from knowledge.service import KnowledgeBase
from knowledge.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "var" / "bench"
EVAL = ROOT.parent / "shared" / "eval" / "dev.yaml"


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_retrieval(lines: list[str]) -> None:
    cases = load_eval_set(EVAL)
    settings = Settings()
    rss0 = rss_mb()
    started = time.perf_counter()
    kb = KnowledgeBase.open(settings)
    load_s = time.perf_counter() - started
    report = evaluate_parts(kb, cases, ["lexical", "dense", "hybrid"])
    report["load_seconds"] = round(load_s, 2)
    report["max_rss_mb"] = round(rss_mb(), 1)
    report["rss_before_mb"] = round(rss0, 1)
    report["build_seconds"] = kb.index.manifest.build_seconds
    lines += [
        "## Retrieval on ../shared/eval/dev.yaml — domain embedder (default)",
        "```",
        write_report(report, OUT / "retrieval-domain.json"),
        "```",
        f"index build {report['build_seconds']} s · load {report['load_seconds']} s · "
        f"max RSS {report['max_rss_mb']} MB",
        "",
    ]
    lines += ["by style (hybrid): " + ", ".join(f"{k} {v}" for k, v in report["hybrid"]["by_style"].items()), ""]

    base_dir = OUT / "index-base"
    lib = load_library(settings.guides_path, settings.catalogue)
    build_index(lib, base_dir, embedder=packaged_base_model())
    kb_base = KnowledgeBase(lib, load_index(base_dir, lib), settings)
    report_base = evaluate_parts(kb_base, cases, ["dense", "hybrid"])
    lines += [
        "## Same, with the packaged all-MiniLM-L6-v2 as is (no domain training)",
        "```",
        write_report(report_base, OUT / "retrieval-base.json"),
        "```",
        "",
    ]


def bench_nlu(lines: list[str]) -> None:
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}
    work = OUT / "nlu"
    work.mkdir(parents=True, exist_ok=True)
    bot = [str(ROOT / ".venv-bot/bin/rasa")]
    data = [str(ROOT / "bot/data/nlu.yml"), str(ROOT / "var/bot/data/nlu_services.yml")]
    merged = work / "all_nlu.yml"
    subprocess.run(
        [*bot[:1], "data", "convert", "nlu", "--data", *data, "--out", str(merged), "-f", "yaml"],
        env=env,
        check=False,
        capture_output=True,
    )
    if not merged.exists():
        import yaml

        docs = [yaml.safe_load(Path(d).read_text(encoding="utf-8")) for d in data]
        merged.write_text(
            yaml.safe_dump({"version": "3.1", "nlu": [x for d in docs for x in d["nlu"]]}, allow_unicode=True),
            encoding="utf-8",
        )
    started = time.perf_counter()
    subprocess.run(
        [
            *bot,
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
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *bot,
            "train",
            "nlu",
            "--config",
            str(ROOT / "bot/config.yml"),
            "--nlu",
            str(work / "training_data.yml"),
            "--out",
            str(work / "models"),
            "--fixed-model-name",
            "heldout",
        ],
        env=env,
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    subprocess.run(
        [
            *bot,
            "test",
            "nlu",
            "--nlu",
            str(work / "test_data.yml"),
            "--model",
            str(work / "models" / "heldout.tar.gz"),
            "--out",
            str(work / "results"),
        ],
        env=env,
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    report = json.loads((work / "results" / "intent_report.json").read_text(encoding="utf-8"))
    macro = report["macro avg"]["f1-score"]
    per = {
        k: round(v["f1-score"], 3)
        for k, v in report.items()
        if isinstance(v, dict) and "support" in v and k not in ("macro avg", "weighted avg", "micro avg")
    }
    lines += [
        "## Rasa NLU intents on a held-out 20 % split (trained on the other 80 %)",
        f"macro-F1 **{macro:.3f}**, accuracy {report.get('accuracy', 0):.3f} "
        f"({time.perf_counter() - started:.0f} s incl. training)",
        "per intent: " + ", ".join(f"{k} {v}" for k, v in sorted(per.items())),
        "",
    ]
    (OUT / "nlu.json").write_text(json.dumps({"macro_f1": macro, "per_intent": per}, indent=2), encoding="utf-8")


def main() -> int:
    logging.basicConfig(level=logging.WARNING)
    OUT.mkdir(parents=True, exist_ok=True)
    lines = [f"# menpai benchmarks — {time.strftime('%Y-%m-%d %H:%M')}", ""]
    parts = sys.argv[1:] or ["retrieval", "nlu"]
    if "retrieval" in parts:
        bench_retrieval(lines)
    if "nlu" in parts:
        bench_nlu(lines)
    (OUT / "results.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
