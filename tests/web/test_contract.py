"""web/contract.py and the bot's TypedDicts describe the same payloads and metadata.

The bot runs in another virtual environment (Python 3.10, Rasa), so its module is read
as source (AST), not imported. A kind, reason, key or field added on one side only fails here.
"""

from __future__ import annotations

import ast
import dataclasses
import typing
from pathlib import Path

import pytest
import yaml

from web import contract
from web.render.sentences import SAY

ROOT = Path(__file__).resolve().parents[2]
ACTIONS = ROOT / "bot" / "actions" / "actions.py"


def _typed_dicts() -> dict[str, dict[str, ast.expr]]:
    tree = ast.parse(ACTIONS.read_text(encoding="utf-8"))
    out: dict[str, dict[str, ast.expr]] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and any(getattr(b, "id", "") == "TypedDict" for b in node.bases):
            out[node.name] = {
                stmt.target.id: stmt.annotation
                for stmt in node.body
                if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)
            }
    return out


def _literals(annotation: ast.expr) -> set[str]:
    return {n.value for n in ast.walk(annotation) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


BOT = _typed_dicts()
PAYLOADS = {
    "AnswerPayload": contract.AnswerPayload,
    "ChoicesPayload": contract.ChoicesPayload,
    "HandoffPayload": contract.HandoffPayload,
    "SimplePayload": contract.SimplePayload,
}
METADATA = {
    "Candidate": contract.Candidate,
    "SituationRef": contract.SituationRef,
    "RetrievalMetadata": contract.RetrievalMeta,
    "CurrentMetadata": contract.Current,
    "ChoiceMetadata": contract.ChoiceMeta,
    "Metadata": contract.TurnMetadata,
    "Option": contract.Option,
}


def _fields(cls: type) -> set[str]:
    names = {f.name for f in dataclasses.fields(cls) if not f.metadata.get("web_only")}
    if "kind" in typing.get_type_hints(cls, vars(contract)) and cls in PAYLOADS.values():
        names.add("kind")  # a ClassVar on the web side, a key on the bot side
    return names


def test_every_payload_kind_is_declared_on_both_sides() -> None:
    bot_kinds = set().union(*(_literals(BOT[name]["kind"]) for name in PAYLOADS))
    assert bot_kinds == {k.value for k in contract.PayloadKind}


@pytest.mark.parametrize("name", sorted(PAYLOADS) + sorted(METADATA))
def test_fields_match(name: str) -> None:
    cls = PAYLOADS.get(name) or METADATA[name]
    assert name in BOT, f"bot/actions/actions.py has no TypedDict {name}"
    assert set(BOT[name]) == _fields(cls), f"{name}: bot {sorted(BOT[name])} vs web {sorted(_fields(cls))}"


def test_enumerated_values_match() -> None:
    assert _literals(BOT["HandoffPayload"]["reason"]) == {r.value for r in contract.HandoffReason}
    assert _literals(BOT["ChoicesPayload"]["choice_kind"]) == {k.value for k in contract.ChoiceKind}
    assert _literals(BOT["ChoiceMetadata"]["kind"]) == {k.value for k in contract.ChoiceKind}


def test_every_key_the_bot_names_is_a_sentence_web_can_say() -> None:
    tree = ast.parse(ACTIONS.read_text(encoding="utf-8"))
    keys = {
        v.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Dict)
        for k, v in zip(node.keys, node.values, strict=True)
        if isinstance(k, ast.Constant) and k.value == "key" and isinstance(v, ast.Constant)
    }
    # failed_events(…, key) is called with these literal keys
    keys |= {
        a.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") in ("failed_events", "respond_to_question")
        for a in node.args
        if isinstance(a, ast.Constant) and isinstance(a.value, str)
    }
    domain = yaml.safe_load((ROOT / "bot" / "domain.yml").read_text(encoding="utf-8"))
    for variants in domain["responses"].values():
        keys |= {v["custom"]["key"] for v in variants if "custom" in v}
    assert keys and keys <= set(SAY), f"keys without a sentence: {sorted(keys - set(SAY))}"


def test_request_human_intent_is_the_bots() -> None:
    domain = yaml.safe_load((ROOT / "bot" / "domain.yml").read_text(encoding="utf-8"))
    assert contract.REQUEST_HUMAN_INTENT.lstrip("/") in domain["intents"]
    assert contract.CHOOSE_OPTION_INTENT.lstrip("/") in domain["intents"]


def test_payloads_round_trip_and_unknown_kinds_are_dropped() -> None:
    raw = {
        "kind": "choices",
        "choice_kind": "situation",
        "item": "x",
        "aspect": "fee",
        "options": [{"value": "a", "label": "A"}],
    }
    parsed = contract.parse_payload({"custom": raw})
    assert isinstance(parsed, contract.ChoicesPayload) and parsed.options == (contract.Option("a", "A"),)
    assert contract.parse_payload({"custom": {"kind": "dance"}}) is None
    assert contract.parse_payload({"text": "你好"}) == contract.SimplePayload(contract.PayloadKind.TEXT, text="你好")
    assert contract.parse_payload({}) is None
