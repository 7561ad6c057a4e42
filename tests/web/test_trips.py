"""跑几次 shown where residents decide (answer card, guide page, plate lists, chat) and the illustrated flow."""

from __future__ import annotations

import re
from typing import Any

from knowledge.retrieval import Aspect
from knowledge.service import KnowledgeBase
from web.contract import AnswerPayload
from web.render.flow import flow_of
from web.render.messages import WEB, render_payload
from web.render.sentences import trips_badge


def test_badge_words() -> None:
    assert trips_badge(0) == "一次都不用跑" and trips_badge(1) == "最多跑1次" and trips_badge(2) == "最多跑2次"


def test_trip_question_in_chat_is_answered_directly(kb: KnowledgeBase) -> None:
    payload = AnswerPayload(item="id-card-renew", situation="damaged", aspect=Aspect.TRIPS, follow_up=True)
    msg = render_payload(kb, payload, WEB, plate="NA010001", said="那要跑几趟")
    first = msg.text.split("\n")[0]
    assert "最多跑1次" in first and "邮寄" in first and "2次" in first
    assert "要带的材料" not in msg.text and msg.html and 'class="trips-badge' in msg.html


def test_trip_question_without_a_situation_lists_them_when_they_differ(kb: KnowledgeBase) -> None:
    g = kb.library.guides["id-card-renew"]
    msg = render_payload(kb, AnswerPayload(item=g.code, aspect=Aspect.TRIPS, follow_up=True), WEB, said="跑几次")
    if len({s.trips.count for s in g.situations}) > 1:
        assert all(s.name in msg.text for s in g.situations)
    else:
        assert trips_badge(g.situations[0].trips.count) in msg.text


def test_guide_page_shows_the_badge_the_flow_and_the_walkthrough(client: Any, kb: KnowledgeBase) -> None:
    g = kb.library.guides["id-card-renew"]
    html = client.get("/g/id-card-renew?s=damaged").text
    assert 'class="trips-badge' in html and trips_badge(g.most_trips()) in html
    flow = flow_of(g)
    assert f'aria-label="办理步骤：{flow.summary}"' in html
    for st in g.steps:
        assert st.text in html
        assert f'href="#fi-{st.kind.value}"' in html
    assert "第1趟" in html and 'id="fi-queue"' in html
    if flow.has_online:
        assert 'class="lanes two"' in html and "网上办（可选）" in html
    walk = [w for c in g.online.channels for w in c.walkthrough]
    assert walk and all(w in html for w in walk) and 'class="walkthrough"' in html


def test_flow_numbers_every_step_once_and_counts_trips(kb: KnowledgeBase) -> None:
    for g in kb.library.guides.values():
        flow = flow_of(g)
        numbers = [s.number for b in flow.blocks for s in ([b.shared] if b.shared else [*b.hall, *b.online])]
        assert sorted(numbers) == list(range(1, len(g.steps) + 1)), g.code
        assert flow.trips == sum(st.trip for st in g.steps)


def test_plate_page_lists_say_how_many_trips(client: Any) -> None:
    html = client.get("/p/NA010001").text
    assert re.search(r'class="tag tag-trips">(最多跑\d次|一次都不用跑)<', html)
