"""The renderers: an Answer as text (within a budget), as the card, and WeChat's one byte budget."""

from __future__ import annotations

import datetime as dt

from knowledge.answer import build_answer
from knowledge.service import KnowledgeBase
from web.contract import AnswerPayload
from web.render.html import render_html
from web.render.messages import WEB, WECHAT, Channel, render_payload
from web.render.plain import render_text
from web.render.wechat import MAX_TEXT_BYTES, choices_text, fit, utf8_len

NOW = dt.datetime(2026, 12, 2, 2, 0, tzinfo=dt.UTC)  # a Wednesday, 10:00 in 南安


def test_answer_checklist_is_complete_for_the_situation(kb: KnowledgeBase) -> None:
    lib = kb.library
    answer = build_answer(lib, "id-card-renew", "damaged", now=NOW)
    names = [c.name for c in answer.checklist]
    assert names == [m.name for m in lib.guides["id-card-renew"].situation("damaged").materials]
    text = render_text(answer)
    assert "情形：证件损坏换证" in text and "损坏的身份证（原件）" in text and "尚未经窗口核实" in text


def test_render_text_respects_the_wechat_limit_and_keeps_the_link(kb: KnowledgeBase) -> None:
    answer = build_answer(kb.library, "hukou-move-in", None, now=NOW)
    text = render_text(answer, limit=300)
    assert len(text) <= 300
    assert text.rstrip().endswith("/g/hukou-move-in")


def test_render_html_escapes_and_marks_sample(kb: KnowledgeBase) -> None:
    answer = build_answer(kb.library, "id-card-renew", "expired", now=NOW)
    answer.tips = ["<script>alert(1)</script>"]
    html = render_html(answer)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "示例内容" in html and 'data-situation="expired"' in html


def test_wechat_answers_fit_one_byte_budget_and_keep_the_link(kb: KnowledgeBase) -> None:
    payload = AnswerPayload(item="hukou-move-in")
    wechat = render_payload(kb, payload, WECHAT, base_url="https://example.org")
    web = render_payload(kb, payload, WEB, base_url="https://example.org")
    assert utf8_len(wechat.text) <= MAX_TEXT_BYTES and wechat.html is None
    assert "https://example.org/g/hukou-move-in" in wechat.text
    assert web.html and "hukou-move-in" in web.text
    tight = Channel("tight", html=False, budget=600, measure=utf8_len)
    short = render_payload(kb, payload, tight, base_url="https://example.org").text
    assert utf8_len(short) <= 600 and short.endswith("/g/hukou-move-in") and "要带的材料" in short


def test_fit_cuts_bytes_without_breaking_a_character() -> None:
    text = "身份证" * 1000
    cut = fit(text, 100)
    assert utf8_len(cut) <= 100 and cut.endswith("…") and cut[:-1] == text[:32]
    assert fit("短", 100) == "短"
    assert choices_text("您是哪种情况？", ["过期", "丢失"]).splitlines()[1:3] == ["1. 过期", "2. 丢失"]
