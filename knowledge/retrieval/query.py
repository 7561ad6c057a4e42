"""Query analysis: what a question's own words say, before any index is searched.

The aspect asked about (fee, hours, where, ...) and its cue regexes, the generic words
that name no service, the characters of bare follow-ups, and the cues for moving on to
another service or for doing a bundle (一件事) in one trip.
"""

from __future__ import annotations

import enum
import re


class Aspect(enum.StrEnum):
    MATERIALS = "materials"
    FEE = "fee"
    TIME = "time"
    WHERE = "where"
    HOURS = "hours"
    ONLINE = "online"
    PROXY = "proxy"  # must I go in person, may a relative go for me
    MAIL = "mail"  # can it be posted
    VALIDITY = "validity"  # how long is it valid
    TRIPS = "trips"  # how many times must I go (跑几趟)
    PHONE = "phone"  # what number do I call
    AMOUNT = "amount"  # how much do I receive (领多少, 能报多少): money paid out, not a fee
    DOCUMENT = "document"  # one thing on the list: 要照片吗, 要复印件吗, 要带户口本吗


# Checked in this order; the first that matches wins, materials is the default.
ASPECT_PATTERNS: list[tuple[Aspect, re.Pattern[str]]] = [
    (
        Aspect.HOURS,
        re.compile(
            r"几点|开门|关门|上班时间|下班|休息|周六|周日|星期六|星期天|礼拜|周末|节假日|营业时间|中午|午休|还开(?!车|证)|开不开门|(?<![去来替帮给能开])开不开|开着|(?<![去来替帮给能开])开吗|有开|开无|开放时间"
        ),
    ),
    (
        Aspect.PROXY,
        re.compile(
            r"本人|亲自|代办|代领|代理|委托|家属|家里人|亲属|别人|替我|替他|替她|帮他办|帮她办|帮我办|帮我们|能代|要自己去|得自己去|自己去办|自己来办|帮(他|她|我|我们|你)?去?(拿|领|取)|(让|叫|请)(儿子|女儿|孩子|老伴|家人|亲戚|孙子|孙女|子女)|一个人(能|可以)(去|办|来)|一方(去|来|到场)|(双方|两个人|两人|夫妻)都(要|得|到场|去)|都要(去|到场)|都得去|单独去|只去一个|只来一个|in person|on behalf"
        ),
    ),
    (
        Aspect.MAIL,
        re.compile(r"邮寄|寄到|寄回|寄给|寄过来|快递到|快递给|邮过来|能寄|可以寄|寄家|post it|mail it|by post"),
    ),
    (
        Aspect.TRIPS,
        re.compile(
            r"跑几趟|跑几次|跑几回|跑多少次|跑多少趟|去几趟|去几次|来几趟|来几次|几趟|跑两趟|跑一趟就|跑一次就|一次办好|一次能办完|一次办完|how many trips|how many times"
        ),
    ),
    (
        Aspect.PHONE,
        re.compile(
            r"电话多少|电话是多少|什么电话|哪个电话|电话号码是|电话号码多少|联系电话|咨询电话|打电话|电话咨询|号码多少|联系方式|怎么联系|热线|phone number|telephone|contact number"
        ),
    ),
    (
        Aspect.VALIDITY,
        re.compile(
            r"有效期|管几年|管多久|能用多久|用多久|用几年|多少年有效|几年有效|有效几年|能用多长时间|管多长时间|有效多久|会失效|会不会失效|会过期|几年内有效|valid"
        ),
    ),
    (
        Aspect.AMOUNT,
        re.compile(
            r"(领|发|补贴|补助|报销|报|赔|拿)(多少|几成|几个月|到多少)|标准是多少|标准多少|多少补贴|多少补助|能报几|how much .{0,20}(get|receive|claim)"
        ),
    ),
    (
        Aspect.FEE,
        re.compile(
            r"多少钱|收费|收钱|收不收|要不要钱|费用|费多少|费是多少|交多少|缴多少|手续费|要钱|交钱|花钱|出钱|掏钱|付钱|给钱|花多少|免费|工本费|几块|多少费|贵不贵|fee|cost|how much"
        ),
    ),
    (
        Aspect.TIME,
        re.compile(
            r"多久|多长时间|几天|当天|时限|多快|要等|什么时候.{0,3}(拿|领|取|到手|下来|办好|出来)|(能|可以|才能)(拿到|领到|拿证|领证|到手)|几个工作日|加急|加快|赶时间|尽快|快一点|快点|how long|urgent|expedite"
        ),
    ),
    (
        Aspect.ONLINE,
        re.compile(
            r"网上|线上|手机上|手机办|app|小程序|不用跑|不想跑|在家办|闽政通|微信上|支付宝|online"
            # must I go there at all: 要跑窗口吗, 非得去现场吗, 可以不去吗
            r"|跑窗口|去窗口吗|到窗口吗|跑现场|去现场|到现场|跑大厅|非得去|非去不可|必须去|一定要去|不去(窗口|现场|大厅)?(能|可以|行)|可以不去|能不去|不跑"
        ),
    ),
    (
        Aspect.WHERE,
        re.compile(
            r"在哪|哪里办|哪里(可以|能|会|好)?(登记|申请|交|缴|领|拿|弄)|最近的(大厅|窗口|地方|哪|服务|便民)|哪儿|去哪|什么地方|地址|哪个窗口|哪个大厅|怎么走|导航|附近|就近|where"
        ),
    ),
    # One thing on the list, asked yes or no ("要带户口本吗"), or copies and originals; "要带什么" is the list.
    (
        Aspect.DOCUMENT,
        re.compile(
            r"照片|相片|证件照|寸照|复印|原件|几份|(要|需要|得|用)带(?!什么|哪些|啥|些|上什么)[^，。？?]{1,10}(吗|么|不)"
            r"|(要|需要|得|用)?带(?!什么|哪些|啥|些|上什么)[^，。？?]{1,10}还是带?[^，。？?]{1,10}|带不带|要不要带|用不用带|需不需要带|需要带(?!什么|哪些|啥)"
        ),
    ),
    (Aspect.MATERIALS, re.compile(r"带什么|要什么|材料|证件|准备|手续|需要|bring|document")),
]


# Words that ask for the checklist, whatever else a question asks ("要带什么，多少钱").
LIST_CUE = re.compile(
    r"带什么|带啥|带哪些|带些什么|要什么(?!时候)|什么材料|哪些材料|材料|准备什么|准备啥|准备哪些|准备些|要哪些|手续(?!费)|bring|documents"
)


def asks_for_list(normalized: str) -> bool:
    """Does the question ask what to bring (beside whatever else it asks)?"""
    return bool(LIST_CUE.search(normalized))


# Every aspect's cue words: they say what is asked about a service, never which service.
ASPECT_CUES = re.compile("|".join(p.pattern for _, p in ASPECT_PATTERNS))


def detect_aspect(normalized: str) -> Aspect | None:
    """The aspect a resident asks about, or None when the text does not say."""
    for aspect, pattern in ASPECT_PATTERNS:
        if pattern.search(normalized):
            return aspect
    return None


# Words that say "I want to do something" but not what: they do not count for coverage.
GENERIC = frozenset(
    [
        "办",
        "办理",
        "申请",
        "手续",
        "材料",
        "准备",
        "需要",
        "带",
        "要带",
        "什么",
        "哪些",
        "怎么",
        "怎样",
        "如何",
        "可以",
        "能",
        "能不能",
        "要",
        "想",
        "去",
        "哪里",
        "在哪",
        "多少",
        "钱",
        "时间",
        "多久",
        "本人",
        "一下",
        "请问",
        "你好",
        "您好",
        "麻烦",
        "谢谢",
        "问",
        "问一下",
        "弄",
        "搞",
        "吗",
        "呢",
        "啊",
        "吧",
        "的",
        "了",
        "我",
        "我们",
        "你",
        "他",
        "她",
        "家里",
        "现在",
        "这个",
        "那个",
        "一个",
        "个",
        "有",
        "没有",
        "是",
        "不是",
        "还",
        "就",
        "都",
        "也",
        "和",
        "跟",
        "给",
        "帮",
        "帮我",
        "告诉",
        "知道",
        "听说",
        "下",
        "上",
        "里",
        "些",
        "东西",
        "证件",
        "手续费",
        "流程",
        "网上",
        "手机",
        "窗口",
        "大厅",
        "地方",
        "情况",
        "问题",
        "事",
        "事情",
        "需",
        "携带",
        "提交",
        "材科",
        "how",
        "what",
        "do",
        "i",
        "my",
        "to",
        "the",
        "a",
        "an",
        "can",
        "need",
        "for",
        "is",
        "of",
        "in",
        "get",
    ]
)


# Characters of bare follow-ups ("在哪办", "去哪里办", "要多久"): a word made only of these
# names no service, however rare the bigram happens to be in the guides.
FOLLOW_UP_CHARS = frozenset(
    "在去到哪里儿办要得多少钱久几天时候怎么样吗呢啊呀吧了的是有没能可以还请问交缴付那这不爱无毋矣"
)  # 爱 无 毋 矣: Minnan 要 吗 不 了
# "Another thing": the words residents use to move on to another service (另外, 还有, 对了, 那…呢).
SWITCH_CUE = re.compile(r"另外|还有|对了|顺便|再问|换个|另一个|那[^。！？?]{1,30}呢|and also|another")
# "Show me my own record": the words of a personal-data look-up (a balance, whether something was
# paid or approved, how far an application has got) — the resident's data, not a checklist.
LOOKUP_CUE = re.compile(
    r"查(一下|一查|查|询)|想查|怎么查|帮我(看|查)|(还剩|剩下|还有)多少|余额|(交|缴)(上|进去)?了没|到账了?没"
    r"|(批|审核|审批)(下来|通过|过)了?没|审核到|进度|到哪一步|办到哪|有没有在保|在不在保|还能领几个月"
    r"|\bmy\b.{0,40}\b(balance|status|records?|account|progress)\b|how much .{0,30}\bleft\b"
    r"|\bcheck (my|whether|if|on)\b|\blook up\b|\b(has|have|did)\b.{0,40}\b(paid|approved|processed|arrived)\b"
)
# "Together, in one trip": the words residents use for a 一件事 bundle.
BUNDLE_CUE = re.compile(
    r"(?<!第)一次办|一起办|一起申请|(?<!第)一次性办|一件事|联办|打包|一趟就|一块办|一并办|一次全办|一条龙"
)  # IDF over items; 多少钱 is 1.3, 身份证 1.3, 低保 2.8

# A question, not a statement: a question mark or particle, or the words of one (能不能, 要不要 …).
QUESTION = re.compile(
    r"[吗么呢？?]\s*$|吗[，,。]|(.)[不唔没冇]\1|能不能|可不可以|可以不|是不是|要不要|用不用|需不需要|行不行|有没有|怎么|多少|多久|多长|几|哪|什么|啥|咋|是否|咩|点样|未|\b(can|do|does|is|how|what|where|when)\b",
    re.I,
)


def is_question(normalized: str) -> bool:
    """Is this a question (about something), as opposed to a statement such as a complaint?"""
    return bool(QUESTION.search(normalized))
