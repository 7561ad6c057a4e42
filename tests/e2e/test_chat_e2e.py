"""End to end: real Rasa + action server + web, a multi-turn conversation over HTTP."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.e2e


def chat(base: str, session: str, text: str = "", **extra: object) -> dict:  # type: ignore[type-arg]
    r = httpx.post(
        f"{base}/api/chat", json={"session": session, "text": text, "plate": "NA010001", **extra}, timeout=30
    )
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_healthz_sees_rasa_up(stack) -> None:  # type: ignore[no-untyped-def]
    body = httpx.get(f"{stack.web}/healthz").json()
    assert body["rasa"] == "up"


def test_conversation_clarify_followup_switch_handoff(stack) -> None:  # type: ignore[no-untyped-def]
    s = "e2e-conversation-1"
    first = chat(stack.web, s, "换身份证要带什么")
    msg = first["messages"][0]
    assert msg["kind"] == "choices" and msg["choice_kind"] == "situation" and msg["item"] == "id-card-renew"
    values = [c["value"] for c in msg["choices"]]
    assert "expired" in values

    picked = chat(
        stack.web, s, "", choice={"kind": "situation", "value": "expired", "item": "id-card-renew", "label": "到期换证"}
    )
    answer = picked["messages"][0]
    assert answer["kind"] == "answer" and answer["item"] == "id-card-renew" and answer["situation"] == "expired"
    assert "要带的材料" in answer["text"] and "智能助手暂时忙" not in answer["text"]

    fee = chat(stack.web, s, "那要多少钱")["messages"][0]
    # The direct answer: the fee of this situation, not the whole card again.
    assert fee["kind"] == "answer" and fee["item"] == "id-card-renew" and fee["direct"] is True
    assert "20元" in fee["text"] and "要带的材料" not in fee["text"]

    # A follow-up whose only rare word is an aspect cue stays on the item (it used to switch).
    hours = chat(stack.web, s, "周六开吗")["messages"][0]
    assert hours["kind"] == "answer" and hours["item"] == "id-card-renew", hours

    switch = chat(stack.web, s, "还有，孩子刚出生怎么报户口")["messages"][0]
    if switch["kind"] == "choices" and switch["choice_kind"] == "item":
        # Retrieval was unsure: the bot offers its top three; the resident taps the first.
        assert switch["choices"][0]["value"] == "hukou-newborn" and len(switch["choices"]) == 3
        switch = chat(stack.web, s, "", choice={"kind": "item", "value": "hukou-newborn", "label": "上户口"})
        switch = switch["messages"][0]
    assert switch["item"] == "hukou-newborn" and switch["kind"] in ("answer", "choices")

    human = chat(stack.web, s, "算了，帮我找个人")
    assert human["mode"] == "waiting" and human["messages"][0]["kind"] == "handoff"


def test_out_of_scope_is_declined_with_a_person_offered(stack) -> None:  # type: ignore[no-untyped-def]
    reply = chat(stack.web, "e2e-oos-1", "给我讲个笑话吧")
    msg = reply["messages"][0]
    assert msg["kind"] == "text" and msg["offer_human"] is True and "帮不上" in msg["text"]


def test_our_dialogues_pass_through_the_real_stack(stack) -> None:  # type: ignore[no-untyped-def]
    """`menpai eval-chat` on our own conversations: direct follow-ups, the situation from the
    words, typed replies, a steady item, the switch, referrals and look-ups."""
    from pathlib import Path

    from web.chat.evalchat import eval_chat_file

    rep = eval_chat_file(Path(__file__).with_name("dialogues.yaml"), stack.web)
    assert rep.turns >= 12 and rep.failures == [], rep.failures


def test_restart_forgets_the_item_and_says_so(stack) -> None:  # type: ignore[no-untyped-def]
    s = "e2e-restart-1"
    assert chat(stack.web, s, "结婚登记要带什么")["messages"][0]["item"] == "marriage-registration"
    restart = chat(stack.web, s, "重新开始")["messages"]
    assert [m["kind"] for m in restart] == ["text"] and "重新开始" in restart[0]["text"]
    # Nothing is carried over: a bare follow-up now asks which service.
    follow = chat(stack.web, s, "那要多少钱")["messages"][0]
    assert follow["kind"] == "text" and "哪件事" in follow["text"]


def stop_and_ask(web: str, proc, session: str) -> None:  # type: ignore[no-untyped-def]
    """Stop a bot process, then ask: web answers from retrieval alone, marked, a person offered."""
    proc.terminate()
    proc.wait(timeout=20)
    msg = chat(web, session, "结婚登记要带什么")["messages"][0]
    assert msg["kind"] == "answer" and msg["item"] == "marriage-registration"
    assert "智能助手暂时忙" in msg["text"] and msg["offer_human"] is True


def test_action_server_stopped_web_answers_from_retrieval(stack) -> None:  # type: ignore[no-untyped-def]
    """Rasa up, its action server down: Rasa answers nothing, which web must not show as 没听懂."""
    stop_and_ask(stack.web, stack.actions_proc, "e2e-no-actions-1")
    human = chat(stack.web, "e2e-no-actions-1", "帮我转人工")
    assert human["mode"] == "waiting" and human["messages"][0]["kind"] == "handoff"


def test_rasa_stopped_web_falls_back_within_two_seconds(stack) -> None:  # type: ignore[no-untyped-def]
    stop_and_ask(stack.web, stack.rasa_proc, "e2e-fallback-1")
    assert httpx.get(f"{stack.web}/healthz").json()["rasa"] == "down"
