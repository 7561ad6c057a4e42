"""Every sentence the assistant says, in one table (and the few that take an argument, as functions).

Keys are what the bot's payloads name (``{"kind": "text", "key": "greet"}``), what direct
answers use, and what the channels say around a turn (the queue, after hours, WeChat's welcome).
"""

from __future__ import annotations

from knowledge.library import Library
from knowledge.retrieval import Declined, declined_kind

SAY = {
    # dialogue: what a payload's key names
    "restart": "好的，我们重新开始。想办什么事，直接说就行。",
    "greet": "您好！我是南安市数字政务门牌助手（示例）。想办什么事，直接说就行，比如“换身份证要带什么”。",
    "thank": "不客气！还有别的事情随时问我。",
    "goodbye": "好的，祝您办事顺利，再见！",
    "iamabot": "我是自动回复的智能助手，答案来自政务服务办事攻略。需要真人的话，点“找人工帮办”或者说“人工”。",
    "rephrase": "不好意思，我没太听懂您要办什么事。可以换个说法吗？比如“给孩子上户口要带什么”。也可以说“人工”找工作人员。",
    "decline": "这个问题我帮不上忙，我只懂政务服务办事。您可以问办事要带的材料、在哪办、要多少钱；也可以找人工帮您。",
    "which_service": "您想问哪件事呢？比如“换身份证”“医保缴费”“公积金提取”。",
    "ok_no_human": "好的。您还可以换个说法再问我。",
    "anything_else": "好的。还有别的想问的吗？",
    "handoff": "好的，正在为您转接人工，请稍等。工作人员会看到您前面问过的内容，不用再说一遍。",
    "choose_situation": "不同情况要带的东西不一样。您是哪种情况？",
    "choose_item": "我不太确定您想办哪一件，是下面哪个？",
    "rasa_down": "（智能助手暂时忙，以下为自动检索结果）",
    "refer": "这件事我这里还没有详细攻略，可以打12345问清楚，也可以找人工帮您。",
    "refer_more": "还有别的事可以接着问我，需要的话也可以找人工帮您。",
    "nothing_found": "抱歉，没有找到和您的问题对应的办事攻略。可以换个说法，或者点“找人工帮办”。",
    "waiting": "已经为您转接人工，前面还有 {ahead} 位，预计等 {minutes} 分钟。您可以继续留言，工作人员会看到。",
    "agent": "工作人员已收到您的消息。",
    "nobody_online": "现在没有工作人员在线，暂时接不了您的对话。请留下电话和留言，工作人员会尽快回电；也可以继续问我，或拨打12345。",
    # a 12345 work order that came from this chat changed status (web.helpdesk.workorders.tell_resident)
    "order_status": "您的12345工单（编号 {code}）有新进展：{status}。{reply}",
    "order_reply": "答复：{reply}",
    "after_hours": "现在是下班时间（工作人员周一至周五 {hours} 在线）。请留下电话和留言，上班后工作人员会回电；也可以先问我。",
    # direct answers to a follow-up (web.render.direct)
    "fee_one": "{title}{who}：{fee}。",
    "fee_by_situation": "{title}的费用：{fees}。",
    "time": "{title}{who}：{time}。",
    "same_day": "当场就能办好。",
    "where": "{title}在{note}办理{citywide}。",
    "near": "离您最近的：{halls}。",
    "hours_day": "{day}：{halls}。",
    "hours_closed": "不开门",
    "hours_none": "{day}这几个大厅都不办公，请换个工作日去（{week}）。",
    "hours_week": "办公时间：{halls}。",
    "holiday": "法定节假日休息（调休上班的日子照常办公）。",
    "online_full": "可以全程网上办，不用跑：{channels}。",
    "online_part": "要到窗口办，网上能先做一部分：{channels}。",
    "online_none": "这件事要到窗口办，网上还不能办。",
    "proxy_unknown": "办事攻略里没有写能不能代办，去之前请先打电话问窗口：{phone}。",
    "mail_unknown": "办事攻略里没有写能不能邮寄，可以打窗口电话问：{phone}。",
    "validity_unknown": "办事攻略里没有写有效期，可以打窗口电话问：{phone}。",
    "amount_unknown": "办事攻略里没有写能领（报）多少，可以打窗口电话问：{phone}。",
    "phone": "{title}由{dept}办理，咨询电话：{halls}；也可以打12345政务服务便民热线。",
    "document_needed": "要带：{label}{when}",
    "document_optional": "特定情况才要带：{label}{when}",
    "document_copies": "要复印件的是：{copies}；别的按清单带原件。",
    "document_no_copies": "不用带复印件：清单上没有要复印件的材料。",
    "document_not_listed": "不用带{document}：这件事的材料清单上没有它。",
    "document_listed": "要带的是：{labels}。",
    "more": "要带的材料见下面的告知单。",
    "more_text": "要带的材料：{url}",
    # 跑几趟 (到办事现场次数)
    "trips_one": "{title}{who}：{badge}。{why}。",
    "trips_by_situation": "{title}：{per}。",
    "trips_without": "不{ways}的话要跑{without}次。",
    # WeChat (web.channels.wechat)
    "wechat_subscribe": "欢迎关注南安市数字政务门牌（示例）！直接发消息问我办事要带什么，比如“换身份证要带什么”。发“人工”找工作人员。",
    "wechat_not_text": "目前只能看懂文字消息，请直接打字问我，或者发“人工”。",
    "wechat_unknown_plate": "欢迎使用南安市数字政务门牌（示例）！直接发消息问我办事要带什么。",
    "wechat_plate": "欢迎！您扫的是 {address} 的门牌（{code}）。{near}直接发消息问我办事要带什么，发“人工”找工作人员。",
    "wechat_nearest": "离您最近的是{name}（{distance}，{status}），电话{phone}。",
    "wechat_nearby": "离您最近的办事地点：",
    "wechat_failed": "消息没能处理：{error}",
    "chat_full": "这段对话已经有 {count} 条消息，不能再往下发了。请点“找人工帮办”（微信里发“人工”）让工作人员接着帮您，或者开始一段新的对话。",
    "transcript_earlier": "（更早的 {count} 条消息没有显示）",
    # staff-only notes in the transcript about texts kept in the WeChat outbox (web.channels.wechat)
    "wechat_kept_held": "未送达微信（{reason}）：“{preview}”等 {count} 条已保留，居民下次发消息时随回复一并发出。",
    "wechat_kept_retry": "未送达微信（{reason}）：“{preview}”等 {count} 条已保留，系统会自动重发。",
    "wechat_backlog_sent": "之前未送达的 {count} 条已随这次回复发给居民。",
    "wechat_late_failed": "助手没能回答这条消息（出错了），居民没有收到回复；请人工跟进。",
    "wechat_voice": "这条语音我没能听清（没有识别出文字）。请打字问我，或者发“人工”找工作人员。",
    "wechat_voice_note": "［语音消息，微信没有识别出文字］",
    "wechat_image": "收到您的图片。我看不懂图片，请用文字说说想办什么事；要给工作人员看材料，请先发“人工”。",
    "wechat_image_to_staff": "图片已转给工作人员（保存{days}天后自动删除）。",
    "wechat_image_note": "［图片］居民发来一张图片（{days}天后自动删除）",
    "wechat_image_failed": "图片没能转给工作人员，请稍后再发一次，或用文字说明。",
    "wechat_code": "查询码 {code}（{kind}，{item}）：{status}。{precheck}{note}",
    "wechat_code_unknown": "没有找到查询码 {code}，请核对后再发，或打12345。",
    # video help (视频办), offered with the queue message during staff hours
    "video_help": "也可以视频连线工作人员：{url}",
    "wechat_choose": "（回复数字选择）",
    # the answer card and its text
    "draft": "示例内容，尚未经窗口核实",
    "retrieval_only_text": "（智能助手暂时忙，以上为自动检索结果，可回复“人工”找工作人员）",
    "card_more": "查看完整告知单（要带的材料）",
    "list_link": "要带的材料看告知单：{url}（{review}）",
}


AGENCY_KINDS = {"agency": "帮办代办", "home": "上门办", "precheck": "在线预审"}
AGENCY_STATUS = {
    "submitted": "已提交，等待受理",
    "accepted": "已受理",
    "in_progress": "正在办理",
    "done": "已办结",
    "cancelled": "已取消",
}
VERDICTS = {"ok": "合格", "missing": "缺", "fix": "需补正"}


def precheck_summary(verdicts: list[tuple[str, str, str]]) -> str:
    """A pre-check's result in one line for WeChat and SMS: (material, verdict, note) each."""
    if not verdicts:
        return "预审结果：工作人员还没有看完，请稍后再查。"
    parts = [f"{name}{VERDICTS.get(v, v)}" + (f"（{note}）" if note else "") for name, v, note in verdicts]
    ready = all(v == "ok" for _, v, _ in verdicts)
    return "预审结果：" + "；".join(parts) + ("。材料齐全，带上原件去一次就行。" if ready else "。请按提示补齐后再去。")


TRIP_SAVERS = {
    "mail": "选邮寄",
    "precheck": "先网上预审",
    "online": "在网上办",
    "proxy": "让家属代办",
    "appointment": "先预约",
}


def trips_badge(count: int) -> str:
    """The large badge on a card, a guide and a list of services: 最多跑一次, in words residents know."""
    if count <= 0:
        return "一次都不用跑"
    return f"最多跑{count}次"


def referral_text(lib: Library, key: str) -> str:
    """Who handles it, or where the resident sees their own data, for a question no guide answers."""
    kind, ident = declined_kind(key)
    if kind is Declined.REFERRAL and ident in lib.referrals:
        ref = lib.referrals[ident]
        online = ""
        if ref.online:
            online = f"也可以在{ref.online.name}办理或咨询" + (f"：{ref.online.how}" if ref.online.how else "") + "。"
        return (
            f"“{ref.name}”这件事还没有详细攻略：{ref.what}由{ref.dept}办理，地点：{ref.where.note}。"
            f"电话 {ref.phone}（去之前先打电话问清楚要带什么）。{online}"
        )
    if kind is Declined.LOOKUP and ident in lib.lookups:
        look = lib.lookups[ident]
        ways = "；".join(c.name + (f"（{c.how}）" if c.how else "") for c in look.channels)
        return f"“{look.name}”要您本人登录查看，助手看不到您的个人信息。可以这样查：{ways}。"
    topic = lib.out_of_scope.get(ident)
    return f"“{topic.name}”不在本助手的办事攻略里。{topic.refer}" if topic else ""
