"""What staff read instead of enum values: one table of labels for the console's templates.

``label("reason", "asked")`` → 群众要求人工. An unknown value is shown as it is (never hidden).
"""

from __future__ import annotations

import enum

LABELS: dict[str, dict[str, str]] = {
    "mode": {"bot": "智能助手", "waiting": "排队等人工", "agent": "人工服务中", "resolved": "已办结"},
    "reason": {"asked": "群众要求人工", "failed": "机器人两次没答上", "complaint": "投诉"},
    "channel": {"web": "网页（门牌）", "wechat": "微信公众号"},
    "role": {"agent": "坐席", "supervisor": "值班长", "hotline": "12345坐席", "editor": "内容编辑"},
    "speaker": {"resident": "群众", "bot": "机器人", "staff": "工作人员", "system": "系统", "note": "内部备注"},
    "ticket": {"callback": "留言回电", "follow_up": "差评回访"},
    "ticket_status": {"open": "待办", "done": "已办结"},
    "agency": {
        "submitted": "已提交",
        "accepted": "已受理",
        "in_progress": "办理中",
        "done": "已办结",
        "cancelled": "已取消",
    },
    "presence": {"online": "在线", "busy": "忙碌", "away": "离开"},
    "target": {"chat": "人工服务", "answer": "智能回答"},
}


def label(kind: str, value: object) -> str:
    """The label of ``value`` (an enum member or its value) in table ``kind``."""
    raw = value.value if isinstance(value, enum.Enum) else ("" if value is None else str(value))
    return LABELS.get(kind, {}).get(raw, raw)
