"""`menpai eval-chat`: drive scripted conversations through a running web's /api/chat.

The file format is that of ../shared/eval/dialogues.yaml; the verdicts are those of
../shared/eval/chat_eval.py (the public checker), computed from the documented
/api/chat JSON only: ``mode`` and ``messages[]`` with ``kind``, ``item``,
``situation``, ``text``, ``choice_kind`` and ``choices[]`` (``value``/``label``).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

URL = re.compile(r"https?://\S+")
NOT_ANSWERS = ("choices", "handoff", "text")


def matches(pattern: str, text: str) -> bool:
    """'a|b' alternatives, or 're:REGEX'."""
    if pattern.startswith("re:"):
        return re.search(pattern[3:], text) is not None
    return any(alt in text for alt in pattern.split("|"))


@dataclass
class ReplyFacts:
    kinds: list[str]
    items: set[str]
    situations: set[str | None]
    text: str
    answer_chars: int
    mode: str | None
    handoff: bool

    @classmethod
    def of(cls, reply: dict[str, Any]) -> ReplyFacts:
        msgs = [m for m in reply.get("messages") or [] if isinstance(m, dict)]
        answers = [m for m in msgs if m.get("item") and m.get("kind") not in NOT_ANSWERS]
        labels = [str(c.get("label") or "") for m in msgs for c in m.get("choices") or [] if isinstance(c, dict)]
        items = {str(m["item"]) for m in msgs if m.get("item")}
        items |= {
            str(c.get("value"))
            for m in msgs
            if m.get("choice_kind") == "item"
            for c in m.get("choices") or []
            if isinstance(c, dict)
        }
        answer_text = "\n".join(str(m.get("text") or "") for m in answers)
        return cls(
            kinds=["answer" if m in answers else str(m.get("kind")) for m in msgs],
            items=items,
            situations={m.get("situation") for m in answers},
            text="\n".join([*(str(m.get("text") or "") for m in msgs), *labels]),
            answer_chars=len(URL.sub("", answer_text).strip()),
            mode=reply.get("mode"),
            handoff=reply.get("mode") in ("waiting", "agent") or any(m.get("kind") == "handoff" for m in msgs),
        )


def verdict(expect: dict[str, Any], f: ReplyFacts) -> list[str]:
    """The problems of one reply against its expectation (empty: the turn passed)."""
    bad = []
    kind = expect.get("kind")
    if kind == "answer" and "answer" not in f.kinds:
        bad.append(f"wanted an answer, got kinds {f.kinds}")
    if kind == "guide" and not ({"answer", "choices"} & set(f.kinds)):
        bad.append(f"wanted an answer or a situation question, got kinds {f.kinds}")
    if kind == "choices" and "choices" not in f.kinds:
        bad.append(f"wanted choices, got kinds {f.kinds}")
    if kind == "handoff" and not f.handoff:
        bad.append(f"wanted a handoff, got mode {f.mode} kinds {f.kinds}")
    if kind == "decline" and "answer" in f.kinds:
        bad.append(f"wanted a decline, got an answer about {sorted(f.items)}")
    if expect.get("item") and expect["item"] not in f.items:
        bad.append(f"wanted item {expect['item']}, got {sorted(f.items)}")
    if expect.get("situation") and expect["situation"] not in f.situations:
        bad.append(f"wanted situation {expect['situation']}, got {sorted(str(s) for s in f.situations if s)}")
    bad += [f"reply does not say {p!r}" for p in expect.get("says") or [] if not matches(p, f.text)]
    bad += [f"reply says {p!r}" for p in expect.get("not_says") or [] if matches(p, f.text)]
    if expect.get("max_chars") and f.answer_chars > expect["max_chars"]:
        bad.append(f"answer text {f.answer_chars} chars > {expect['max_chars']}")
    return bad


@dataclass
class ChatEvalReport:
    dialogues: int = 0
    dialogues_passed: int = 0
    turns: int = 0
    turns_passed: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)
    transcripts: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self, *, with_transcripts: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "dialogues": self.dialogues,
            "dialogues_passed": self.dialogues_passed,
            "turns": self.turns,
            "turns_passed": self.turns_passed,
            "turn_pass_rate": round(self.turns_passed / max(self.turns, 1), 4),
            "dialogue_pass_rate": round(self.dialogues_passed / max(self.dialogues, 1), 4),
            "failures": self.failures,
        }
        if with_transcripts:
            out["transcripts"] = self.transcripts
        return out


Post = Callable[[dict[str, Any]], dict[str, Any]]


def run_dialogues(dialogues: list[dict[str, Any]], post: Post) -> ChatEvalReport:
    """Play every dialogue through ``post`` (one /api/chat call) and judge each turn."""
    rep = ChatEvalReport(dialogues=len(dialogues))
    for d in dialogues:
        session = "eval-" + uuid.uuid4().hex[:12]
        last: dict[str, Any] | None = None
        ok = True
        for i, turn in enumerate(d.get("turns") or []):
            body: dict[str, Any] = {"session": session}
            if d.get("plate"):
                body["plate"] = d["plate"]
            said = turn.get("say") or turn.get("choose")
            if "choose" in turn:
                options = [
                    (m, c)
                    for m in (last or {}).get("messages", [])
                    if m.get("kind") == "choices"
                    for c in m.get("choices") or []
                ]
                pick = next(((m, c) for m, c in options if matches(turn["choose"], str(c.get("label")))), None)
                if pick is None:
                    rep.turns += 1
                    ok = False
                    labels = [c.get("label") for _, c in options]
                    rep.failures.append(
                        {
                            "dialogue": d["name"],
                            "turn": i,
                            "said": f"(choose) {turn['choose']}",
                            "problems": [f"no choice matching {turn['choose']!r} among {labels}"],
                        }
                    )
                    break
                m, c = pick
                body["choice"] = {
                    "kind": m.get("choice_kind") or "situation",
                    "value": c.get("value"),
                    "item": m.get("item"),
                    "label": c.get("label", ""),
                }
            else:
                body["text"] = turn["say"]
            try:
                last = post(body)
                bad = verdict(turn.get("expect") or {}, ReplyFacts.of(last))
            except Exception as exc:  # a failed request is a failed turn
                last, bad = None, [f"request failed: {exc!r}"]
            rep.turns += 1
            reply_text = "\n".join(str(m.get("text") or "") for m in (last or {}).get("messages", []))
            rep.transcripts.append({"dialogue": d["name"], "turn": i, "said": said, "reply": reply_text, "ok": not bad})
            if bad:
                ok = False
                rep.failures.append({"dialogue": d["name"], "turn": i, "said": said, "problems": bad})
            else:
                rep.turns_passed += 1
        rep.dialogues_passed += ok
    return rep


def eval_chat_file(path: Path, base: str, timeout: float = 30.0) -> ChatEvalReport:
    dialogues = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    with httpx.Client(base_url=base.rstrip("/"), timeout=timeout) as client:

        def post(body: dict[str, Any]) -> dict[str, Any]:
            client.cookies.clear()  # as the public checker: the session travels in the body only
            response = client.post("/api/chat", json=body)
            response.raise_for_status()
            data: dict[str, Any] = response.json()
            return data

        return run_dialogues(dialogues, post)
