"""knowledge's subcommands of `menpai`: guides check, index build/calibrate/status, eval, eval-cv.

The `menpai` root lives in web (web/cli.py); it calls ``register`` so these commands
appear beside web's. Nothing here imports web.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from knowledge.settings import FaissKind, Settings


def settings_of(args: argparse.Namespace) -> Settings:
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
    per_guide = sorted(len(lib.asks_of(code)) or len(g.asks) for code, g in lib.guides.items())
    n_ask = sum(per_guide)
    batches = sorted({a.batch for a in lib.asks})
    verified = sum(g.review.status == "verified" for g in lib.guides.values())
    n_faq = sum(len(g.faqs) for g in lib.guides.values())
    levels: dict[str, int] = {}
    for h in lib.halls.values():
        levels[h.level.value] = levels.get(h.level.value, 0) + 1
    sys.stdout.write(
        f"ok: {len(lib.guides)} guides ({sum(g.bundle for g in lib.guides.values())} bundles), "
        f"{n_sit} situations, {n_mat} materials, {n_ask} asks in {len(batches)} batches "
        f"(per guide min {per_guide[0]}, median {per_guide[len(per_guide) // 2]}), {n_faq} questions with answers "
        f"({sum(a.faq is not None for a in lib.faq_asks)} follow-ups labelled with the one they ask, "
        f"{sum(a.faq is None for a in lib.faq_asks)} with none, by {len({a.writer for a in lib.faq_asks})} writers); "
        f"{verified} verified, {len(lib.guides) - verified} draft; "
        f"{len(lib.referrals)} referral entries, {len(lib.lookups)} look-ups, {len(lib.out_of_scope)} out-of-scope topics; "
        f"{len(lib.halls)} halls ({', '.join(f'{k} {v}' for k, v in sorted(levels.items()))}); "
        f"{len(lib.plates)} door plates; catalogue {len(lib.catalogue)} items, all covered\n"
    )
    return 0


def cmd_index_build(args: argparse.Namespace) -> int:
    from knowledge.library import load_library
    from knowledge.pipeline import build_index

    settings = settings_of(args)
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
    from knowledge.index import read_manifest
    from knowledge.library import load_library
    from knowledge.pipeline import calibrate_index

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


def cmd_eval_faq(args: argparse.Namespace) -> int:
    from knowledge.faq_eval import report, summary
    from knowledge.service import KnowledgeBase

    rep = report(KnowledgeBase.open(Settings()))
    sys.stdout.write((json.dumps(rep, ensure_ascii=False) if args.json else summary(rep)) + "\n")
    return 0


def cmd_eval_cv(args: argparse.Namespace) -> int:
    from knowledge.crossval import cross_validate
    from knowledge.library import load_library
    from knowledge.retrieval.calibration import LOO_THRESHOLD

    settings = Settings()
    if args.situations:
        from knowledge.crossval import sweep_situation_margin
        from knowledge.service import KnowledgeBase

        kb = KnowledgeBase.open(settings, with_dense=False)
        if args.drop_common:
            kb.retriever.config = dataclasses.replace(kb.retriever.config, situation_drop_common=True)
        got = sweep_situation_margin(kb.library, kb.retriever, args.kinds.split(","))
        if args.json:
            sys.stdout.write(json.dumps(got, ensure_ascii=False) + "\n")
            return 0
        sys.stdout.write(
            f"situation margin chosen on the folds: {got['chosen_margin']} (shipped {got['shipped_margin']})\n"
        )
        sys.stdout.write("margin  right  wrong  guessed(unlabelled)  utility\n")
        for row in got["sweep"]:
            sys.stdout.write(
                f"{row['margin']:<6}  {row['right']:.3f}  {row['wrong']:.3f}  {row['guessed']:.3f}"
                f"                {row['utility']}\n"
            )
        sys.stdout.write(
            f"name-word margin chosen on the folds: {got['chosen_name_margin']} (shipped {got['shipped_name_margin']})\n"
        )
        for row in got["name_sweep"]:
            sys.stdout.write(
                f"{row['name_margin']:<6}  {row['right']:.3f}  {row['wrong']:.3f}  {row['guessed']:.3f}"
                f"                {row['utility']}\n"
            )
        return 0
    lib = load_library(settings.guides_path, settings.catalogue)
    from knowledge.retrieval import RetrieverConfig

    config = RetrieverConfig()
    if args.decay is not None:
        config = dataclasses.replace(config, item_decay=args.decay)
    if args.classifier_weight is not None:
        config = dataclasses.replace(config, classifier_weight=args.classifier_weight)
    if args.english_topic_lead is not None:
        config = dataclasses.replace(config, english_topic_lead=args.english_topic_lead or None)
    if args.lookup_lead is not None:
        config = dataclasses.replace(config, lookup_lead=args.lookup_lead or None)
    if args.english_lookup_lead is not None:
        config = dataclasses.replace(config, english_lookup_lead=args.english_lookup_lead or None)
    rep = cross_validate(
        lib,
        kinds=args.kinds.split(","),
        embedder=settings.embedder,
        epochs=args.epochs,
        shipped_threshold=settings.abstain_threshold if settings.abstain_threshold is not None else LOO_THRESHOLD,
        work=Path(args.work) if args.work else None,
        config=config,
        outcomes_path=Path(args.outcomes) if args.outcomes else None,
    )
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(rep, ensure_ascii=False, indent=2), encoding="utf-8")
    if args.write_calibration and "fold_calibration" in rep:
        Path(args.write_calibration).write_text(
            json.dumps(rep["fold_calibration"], ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
    if args.json:
        sys.stdout.write(json.dumps(rep, ensure_ascii=False) + "\n")
        return 0
    sys.stdout.write(f"threshold chosen on the folds: {rep['chosen_threshold']} ({rep['policy']})\n")
    sys.stdout.write("fold                  n_in  n_out  hit@1  hit@3  abstain_R  false_abstain\n")
    for name, m in [*rep["by_fold"].items(), ("POOLED", rep["pooled"])]:
        sys.stdout.write(
            f"{name:<20} {m['n_in_scope']:>5} {m['n_not_a_guide']:>6}  {m['hit_at_1']:.3f}  {m['hit_at_3']:.3f}"
            f"  {m['abstain_recall']:.3f}      {m['false_abstain_rate']:.3f}\n"
        )
    sys.stdout.write(
        "by style (hit@1): "
        + ", ".join(f"{s} {v['hit_at_1']:.2f} (n={v['n']})" for s, v in rep["pooled"]["by_style"].items())
        + "\n"
    )
    fc = rep.get("fold_calibration")
    if fc:
        n = fc["nested"]
        sys.stdout.write(
            f"calibration fitted on the folds (nested, each fold scored by the others' fit): threshold "
            f"{fc['threshold']} (English {fc.get('threshold_english', fc['threshold'])}), hit@1 {n['hit_at_1']:.3f}, "
            f"abstain recall {n['abstain_recall']:.3f}, false abstain {n['false_abstain_rate']:.3f}\n"
        )
        for lang in ("chinese", "english"):
            m = fc.get(f"nested_{lang}")
            if m:
                sys.stdout.write(
                    f"  {lang}: n {m['n_in_scope']} in scope / {m['n_not_a_guide']} not a guide, hit@1 "
                    f"{m['hit_at_1']:.3f}, abstain recall {m['abstain_recall']:.3f}, "
                    f"false abstain {m['false_abstain_rate']:.3f}\n"
                )
    return 0


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
) -> dict[str, argparse._SubParsersAction[argparse.ArgumentParser]]:
    """Add knowledge's commands to the root parser; return the command groups web adds to (``guides``)."""
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

    ev = sub.add_parser("eval", help="accuracy of retrieval on a question set (YAML like ../shared/eval/dev.yaml)")
    ev.add_argument("file", nargs="?", default=str(Path(__file__).resolve().parents[2] / "shared/eval/dev.yaml"))
    ev.add_argument("--json", action="store_true", help="print the whole report as one JSON object")
    ev.add_argument("--parts", default="lexical,dense,classifier,hybrid")
    ev.add_argument("--out", help="also write the JSON report here")
    ev.set_defaults(func=cmd_eval)

    cv = sub.add_parser(
        "eval-cv", help="cross-validate retrieval on our own asks (held out by writer batch and by style)"
    )
    cv.add_argument("--kinds", default="batch,style", help="fold kinds: batch, style or both")
    cv.add_argument("--epochs", type=int, help="dense training epochs per fold (default: as the index)")
    cv.add_argument("--json", action="store_true")
    cv.add_argument(
        "--situations", action="store_true", help="only the situation choice on the right item (no rebuilds, seconds)"
    )
    cv.add_argument(
        "--english-topic-lead",
        type=float,
        help="RetrieverConfig.english_topic_lead to measure (0: off; default: the shipped one)",
    )
    cv.add_argument(
        "--lookup-lead",
        type=float,
        help="RetrieverConfig.lookup_lead to measure (0: off; default: the shipped one)",
    )
    cv.add_argument(
        "--english-lookup-lead",
        type=float,
        help="RetrieverConfig.english_lookup_lead to measure (0: off for English; default: the shipped one)",
    )
    cv.add_argument(
        "--drop-common",
        action="store_true",
        help="with --situations: leave out the words every situation has (the rule before 2026-12-07)",
    )
    cv.add_argument("--out", help="also write the JSON report here")
    cv.add_argument(
        "--write-calibration",
        metavar="PATH",
        help="write the calibration fitted on the folds here (guides/confidence.json ships with the guides)",
    )
    cv.add_argument("--outcomes", help="also write every held-out question's outcome here (JSON lines)")
    cv.add_argument("--work", help="keep the fold indexes here and reuse them when their content is unchanged")
    cv.add_argument("--decay", type=float, help="RetrieverConfig.item_decay to measure (default: the shipped one)")
    cv.add_argument(
        "--classifier-weight",
        type=float,
        help="RetrieverConfig.classifier_weight to measure (default: the shipped one)",
    )
    cv.set_defaults(func=cmd_eval_cv)

    faq = sub.add_parser(
        "eval-faq", help="which FAQ a follow-up asks: writer folds on guides/faq_asks (chosen on 3, measured on 1)"
    )
    faq.add_argument("--json", action="store_true")
    faq.set_defaults(func=cmd_eval_faq)
    return {"guides": guides}
