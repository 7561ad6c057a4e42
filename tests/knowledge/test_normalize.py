from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.normalize import Normalizer
from knowledge.retrieval import Aspect, detect_aspect

pytestmark = pytest.mark.unit
ALIASES = Path(__file__).resolve().parents[2] / "guides" / "aliases.yaml"


@pytest.fixture(scope="module")
def norm() -> Normalizer:
    return Normalizer.from_file(ALIASES)


def test_normalize_traditional_to_simplified(norm: Normalizer) -> None:
    assert norm("寶寶出生要怎麼報戶口") == "宝宝出生要怎么报户口"


def test_normalize_full_width_and_punctuation(norm: Normalizer) -> None:
    assert norm("ＳＦＺ　過期了！！") == "身份证 过期了"


def test_normalize_typos_from_the_editable_table(norm: Normalizer) -> None:
    assert norm("身分证和户口薄") == "身份证和户口本"
    assert norm("公基金怎么取") == "公积金怎么取"
    assert norm("驾找到期") == "驾照到期"


def test_normalize_dialect_words(norm: Normalizer) -> None:
    assert norm("阿嬷的厝") == "奶奶的房子"


@pytest.mark.parametrize(
    ("said", "plain", "aspect"),
    [
        ("换新的着开偌济钱", "换新的着开多少钱", Aspect.FEE),  # Minnan
        ("几工会好", "几天会好", Aspect.TIME),
        ("要几工作日", "要几个工作日", Aspect.TIME),  # the longer entry protects 工作日
        ("身份证唔见咗点样补", "身份证丢了怎么补", None),  # Cantonese
        ("几耐先攞到", "多久先拿到", Aspect.TIME),
        ("喺边度办", "在哪里办", Aspect.WHERE),
        ("俺娃的户口咋整", "我娃的户口怎么办", None),  # northern
        ("阮后生替伊去办会使无", "阮儿子替他去办可以无", Aspect.PROXY),  # Minnan
        ("这是头一回办", "这是第一次办", None),
    ],
)
def test_dialect_function_words_become_the_plain_ones_the_aspects_read(
    norm: Normalizer, said: str, plain: str, aspect: Aspect | None
) -> None:
    assert norm(said) == plain
    assert detect_aspect(norm(said)) is aspect


def test_normalize_longest_alias_wins() -> None:
    n = Normalizer({"出生证": "出生医学证明", "出生证明": "出生医学证明"})
    assert n("出生证明丢了") == "出生医学证明丢了"


def test_normalize_key_ignores_spaces_and_case(norm: Normalizer) -> None:
    assert norm.key("ID card 丢了") == norm.key("身份证丢了")


def test_english_words_get_the_guides_words_beside_them(norm: Normalizer) -> None:
    assert norm("How do I renew my passport?") == "how do i renew 换证 my passport 护照"
    # Whole words only: "rent" is not in "parents", "id" not in "idea".
    assert "租房" not in norm("my parents have an idea") and "身份证" not in norm("an idea")
    assert norm("My parents want to rent a flat").startswith("my parents want to rent 租房")
    # Chinese text is left alone.
    assert norm("我的护照丢了") == "我的护照丢了"


def test_longest_english_entry_wins() -> None:
    n = Normalizer(english={"insurance": "保险", "medical insurance": "医保"})
    assert n("medical insurance card") == "medical insurance 医保 card"


def test_english_words_are_matched_in_the_forms_residents_write() -> None:
    n = Normalizer(english={"notarize": "公证", "apply": "申请", "renew": "换证", "id": "身份证", "marry": "结婚登记"})
    assert "公证" in n("a notarized copy") and "公证" in n("notarizing it")
    assert "申请" in n("I applied last week") and "申请" in n("she applies")
    assert "换证" in n("my renewed card") and "结婚登记" in n("we are married")
    # Two-letter keys are not inflected: "ids" is not a word anyone means as 身份证 twice.
    assert "身份证" not in n("the ids")
