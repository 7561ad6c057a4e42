"""Handoff state machine (pure), and its compare-and-set application on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import threading

import pytest
from sqlalchemy import inspect

from web.chat.handoff import TRANSITIONS, HandoffEvent, IllegalTransition, Mode, resident_talks_to_bot, transition
from web.db.store import Store
from web.db.tables import Role, StaffRole
from web.privacy import mask_pii


@pytest.mark.unit
@pytest.mark.parametrize(("mode", "event", "after"), [(m, e, a) for (m, e), a in TRANSITIONS.items()])
def test_transition_legal(mode: Mode, event: HandoffEvent, after: Mode) -> None:
    assert transition(mode, event) is after


ILLEGAL = [(m, e) for m, e in itertools.product(Mode, HandoffEvent) if (m, e) not in TRANSITIONS]


@pytest.mark.unit
@pytest.mark.parametrize(("mode", "event"), ILLEGAL)
def test_transition_illegal_is_refused(mode: Mode, event: HandoffEvent) -> None:
    with pytest.raises(IllegalTransition, match=f"cannot {event.value} a chat that is {mode.value}"):
        transition(mode, event)


@pytest.mark.unit
def test_every_mode_event_pair_is_decided() -> None:
    assert len(ILLEGAL) + len(TRANSITIONS) == len(Mode) * len(HandoffEvent)
    assert len(ILLEGAL) == 25


@pytest.mark.unit
def test_messages_go_to_staff_while_waiting_or_with_an_agent() -> None:
    assert [m for m in Mode if not resident_talks_to_bot(m)] == [Mode.WAITING, Mode.AGENT]


@pytest.mark.unit
def test_mask_pii_masks_id_and_mobile_numbers_only() -> None:
    assert mask_pii("身份证35058319900101123X，电话13912345678，门牌NA010001") == (
        "身份证350583********123X，电话139****5678，门牌NA010001"
    )


@pytest.mark.integration
def test_migration_from_empty_database_creates_every_table(store: Store) -> None:
    tables = set(inspect(store.engine).get_table_names())
    assert {
        "conversations",
        "messages",
        "staff",
        "tickets",
        "agency_requests",
        "ratings",
        "analytics_events",
        "alembic_version",
    } <= tables
    store.migrate()  # idempotent: a second upgrade is a no-op


@pytest.mark.integration
def test_handoff_full_cycle_on_the_database(store: Store) -> None:
    staff = store.staff.add("agent1", "小林", StaffRole.AGENT, "x")
    store.conversations.get_or_create("conv-cycle-1", "web", "NA010001")
    assert store.conversations.apply("conv-cycle-1", HandoffEvent.REQUEST, reason="asked") is Mode.WAITING
    assert store.conversations.queue_position("conv-cycle-1") == 1
    assert store.conversations.apply("conv-cycle-1", HandoffEvent.CLAIM, staff_id=staff.id) is Mode.AGENT
    assert store.conversations.find("conv-cycle-1").agent_id == staff.id
    assert store.conversations.apply("conv-cycle-1", HandoffEvent.RESOLVE) is Mode.RESOLVED
    with pytest.raises(IllegalTransition):
        store.conversations.apply("conv-cycle-1", HandoffEvent.CLAIM, staff_id=staff.id)
    assert store.conversations.find("conv-cycle-1").mode is Mode.RESOLVED


@pytest.mark.integration
def test_simultaneous_claims_exactly_one_wins(store: Store) -> None:
    agents = [store.staff.add(f"agent{i}", f"坐席{i}", StaffRole.AGENT, "x") for i in range(8)]
    store.conversations.get_or_create("conv-race-1")
    store.conversations.apply("conv-race-1", HandoffEvent.REQUEST, reason="asked")
    barrier = threading.Barrier(len(agents))
    wins: list[int] = []
    losses: list[int] = []

    def claim(staff_id: int) -> None:
        barrier.wait()
        try:
            store.conversations.apply("conv-race-1", HandoffEvent.CLAIM, staff_id=staff_id)
            wins.append(staff_id)
        except IllegalTransition:
            losses.append(staff_id)

    threads = [threading.Thread(target=claim, args=(a.id,)) for a in agents]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1 and len(losses) == len(agents) - 1
    assert store.conversations.find("conv-race-1").agent_id == wins[0]


@pytest.mark.integration
def test_messages_are_kept_in_order_with_roles(store: Store) -> None:
    store.conversations.get_or_create("conv-msgs-1")
    for role, text in [(Role.RESIDENT, "你好"), (Role.BOT, "您好"), (Role.STAFF, "我是小林")]:
        store.conversations.add_message("conv-msgs-1", role, text)
    rows = store.conversations.messages("conv-msgs-1")
    assert [(m.role, m.text) for m in rows] == [(Role.RESIDENT, "你好"), (Role.BOT, "您好"), (Role.STAFF, "我是小林")]
    assert store.conversations.messages("conv-msgs-1", after=rows[0].id)[0].text == "您好"


@pytest.mark.integration
def test_last_resident_texts_gives_each_conversations_latest_resident_words(store: Store) -> None:
    for conv, lines in {
        "conv-last-1": [(Role.RESIDENT, "第一句"), (Role.RESIDENT, "第二句"), (Role.STAFF, "好的")],
        "conv-last-2": [(Role.BOT, "您好")],
        "conv-last-3": [(Role.RESIDENT, "我的身份证号350583199001011234")],
    }.items():
        store.conversations.get_or_create(conv)
        for role, text in lines:
            store.conversations.add_message(conv, role, text)
    got = store.conversations.last_resident_texts(["conv-last-1", "conv-last-2", "conv-last-3", "conv-none"])
    assert got == {"conv-last-1": "第二句", "conv-last-3": "我的身份证号350583********1234"}
    assert store.conversations.last_resident_texts([]) == {}


@pytest.mark.integration
def test_store_reports_every_committed_change_of_a_conversation(store: Store) -> None:
    seen: list[str] = []
    store.conversations.on_change = seen.append
    store.conversations.get_or_create("conv-change-1")
    store.conversations.add_message("conv-change-1", Role.RESIDENT, "我要人工")
    store.conversations.apply("conv-change-1", HandoffEvent.REQUEST, announce=("正在转接", "system"))
    assert seen == ["conv-change-1", "conv-change-1"]
    assert [m.text for m in store.conversations.messages("conv-change-1")] == ["我要人工", "正在转接"]


def test_a_chat_turn_is_stored_in_two_transactions(store: Store) -> None:
    """open_turn: conversation (first use creates it) + the resident's words; close_turn: replies,
    the item talked about and the turn's analytics events."""
    from web.db.analytics import event_row

    start = store.conversations.open_turn(
        "conv-turn-1", "换身份证要带什么，电话13812345678", channel="wechat", plate="NA010001"
    )
    assert (start.mode, start.plate) == (Mode.BOT, "NA010001")
    store.conversations.close_turn(
        "conv-turn-1",
        [("要带：身份证", "answer", {"kind": "answer", "item": "id-card-renew"}), ("还有别的吗？", "text", None)],
        item="id-card-renew",
        events=[event_row("question", plate="NA010001", detail="换身份证"), event_row("answer", item="id-card-renew")],
    )
    # A later turn without a plate keeps the conversation's; the mode is read back.
    store.conversations.apply("conv-turn-1", HandoffEvent.REQUEST, reason="asked")
    again = store.conversations.open_turn("conv-turn-1", "还在吗", channel="wechat")
    assert (again.mode, again.plate) == (Mode.WAITING, "NA010001")
    store.conversations.close_turn("conv-turn-1", [])

    conv = store.conversations.find("conv-turn-1")
    assert (conv.channel, conv.plate, conv.item) == ("wechat", "NA010001", "id-card-renew")
    rows = [(m.role, m.kind, m.text, m.payload) for m in store.conversations.messages("conv-turn-1")]
    assert rows == [
        (Role.RESIDENT, "text", mask_pii("换身份证要带什么，电话13812345678"), None),
        (Role.BOT, "answer", "要带：身份证", {"kind": "answer", "item": "id-card-renew"}),
        (Role.BOT, "text", "还有别的吗？", None),
        (Role.RESIDENT, "text", "还在吗", None),
    ]
    assert "13812345678" not in rows[0][2]
    assert store.analytics.count("question") == 1 and store.analytics.count("answer") == 1


def test_first_messages_of_one_conversation_at_once_create_it_once(store: Store) -> None:
    errors: list[BaseException] = []

    def first(i: int) -> None:
        try:
            store.conversations.open_turn("conv-turn-race", f"第{i}句", plate="NA010001")
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=first, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(store.conversations.messages("conv-turn-race")) == 6
