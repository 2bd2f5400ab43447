"""FAQ entries per language: one file per language, a matcher trained per language."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest

from hub.config import Config
from hub.conversation import Conversation
from hub.envelope import InboundMessage
from hub.stages import Turn
from kb.cli import cmd_eval, cmd_kb_import
from kb.faq import load_faq, parse_faq
from kb.knowledge import KnowledgeBase, language_path
from kb.matcher import Matcher, train_matcher
from kb.segment import analysis_for, zh_words
from kb.stage import KnowledgeStage

ZH_FAQ = '''
language = "zh"

[[entries]]
id = "shipping-times"
question = "发货需要多长时间？"
answer = "标准配送需要2-4个工作日。"
examples = ["我的订单什么时候到", "多久能送到", "配送需要几天", "什么时候能收到包裹"]

[[entries]]
id = "returns"
question = "怎么退货？"
answer = "30天内可以退货。"
examples = ["我想退货", "退货政策", "我的夹克可以退吗", "怎么申请退款"]

[[entries]]
id = "password-reset"
question = "怎么重置密码？"
answer = "点击“忘记密码”。"
examples = ["我忘记密码了", "登录不了", "修改密码", "账户被锁了"]

[[entries]]
id = "payment-methods"
question = "你们接受哪些付款方式？"
answer = "信用卡、PayPal和Klarna。"
examples = ["可以用PayPal付款吗", "能刷信用卡吗", "支付方式有哪些"]
'''

EN_FAQ = '''
[[entries]]
id = "shipping-times"
question = "How long does shipping take?"
answer = "Two to four working days."
examples = ["when will my order arrive", "delivery time", "how many days for delivery"]

[[entries]]
id = "gift-cards"
question = "Do you sell gift cards?"
answer = "Yes, from 10 to 500 EUR."
examples = ["gift voucher", "how do I use a gift card", "gift card balance"]

[[entries]]
id = "payment-methods"
question = "Which payment methods do you accept?"
answer = "Cards, PayPal and Klarna."
examples = ["can I pay with paypal", "do you take credit cards", "payment options"]
'''


@pytest.fixture(scope="module")
def zh_matcher() -> Matcher:
    return train_matcher(parse_faq(ZH_FAQ))


def test_the_file_says_its_language_and_a_bad_one_is_named() -> None:
    assert parse_faq(ZH_FAQ).language == "zh"
    assert parse_faq(EN_FAQ).language == ""
    with pytest.raises(Exception, match="language"):
        parse_faq('language = "Chinese please"\n' + EN_FAQ)


def test_chinese_is_read_as_words_and_characters() -> None:
    zh = analysis_for("zh")
    assert zh_words(zh.normalise("我的訂單什麼時候到？")) == ["我", "的", "订单", "什么", "时候", "到"]
    assert zh.normalise("ＰａｙＰａｌ付款") == "paypal付款"  # full width, case
    assert not zh.spelling and analysis_for("en").spelling and not analysis_for("fr").spelling


@pytest.mark.parametrize(("question", "entry"), [
    ("我的订单什么时候到？", "shipping-times"),
    ("我的訂單什麼時候到？", "shipping-times"),  # traditional characters
    ("包裹几天能到", "shipping-times"),
    ("我想把夹克退了", "returns"),
    ("密码忘了怎么办", "password-reset"),
    ("能用ＰａｙＰａｌ付款吗", "payment-methods"),  # full-width Latin
])
def test_chinese_paraphrases_find_their_entry(zh_matcher: Matcher, question: str, entry: str) -> None:
    found = zh_matcher.match(question)
    assert found.entry is not None and found.entry.id == entry
    assert zh_matcher.language == "zh"


@pytest.mark.parametrize("question", ["😀😀😀", "!!!", "", "   "])
def test_nothing_to_read_is_no_match(zh_matcher: Matcher, question: str) -> None:
    assert zh_matcher.match(question).entry is None


@pytest.mark.parametrize("question", ["今天天气怎么样", "你们的老板叫什么名字", "Wie ist das Wetter heute?"])
def test_off_topic_or_another_language_is_not_confident(zh_matcher: Matcher, question: str) -> None:
    assert zh_matcher.match(question).confidence < Config().kb.threshold


def test_mixed_script_question_is_answered_or_left_alone_never_crashes(zh_matcher: Matcher) -> None:
    found = zh_matcher.match("my order 我的订单什么时候到 please 🙏")
    assert found.entry is not None and found.entry.id == "shipping-times"


def write_kb(tmp_path: Path, *, zh: bool = True) -> Path:
    path = tmp_path / "faq.toml"
    path.write_text(EN_FAQ, encoding="utf-8")
    if zh:
        language_path(path, "zh").write_text(ZH_FAQ, encoding="utf-8")
    return path


def turn_in(text: str, language: str, config: Config) -> Turn:
    message = InboundMessage("webchat", "c1", "u1", "m1", text)
    conversation = Conversation(id="conv", channel="webchat", address="webchat:c1")
    return Turn(message=message, conversation=conversation, config=config, language=language)


def languages_config(missing: str = "default") -> Config:
    return Config.from_mapping({
        "languages": {"supported": ["en", "zh", "fr"], "default": "en", "missing": missing},
        "messages": {"fr": {"other_language_note": "(Réponse en anglais.)"}},
    })


async def test_each_language_is_answered_from_its_own_file(tmp_path: Path) -> None:
    config = languages_config()
    knowledge = KnowledgeBase(write_kb(tmp_path), languages=("en", "zh", "fr"), default="en")
    await knowledge.load()
    assert set(knowledge.matchers) == {"en", "zh"}
    stage = KnowledgeStage(knowledge)
    zh = await stage(turn_in("我的订单什么时候到？", "zh", config))
    assert zh is not None and zh.text == "标准配送需要2-4个工作日。"
    en = await stage(turn_in("when will my order arrive", "en", config))
    assert en is not None and en.text == "Two to four working days."


async def test_no_file_in_the_language_answers_from_the_default_with_a_note(tmp_path: Path) -> None:
    config = languages_config("default")
    knowledge = KnowledgeBase(write_kb(tmp_path), languages=("en", "zh", "fr"), default="en")
    await knowledge.load()
    turn = turn_in("gift card balance", "fr", config)  # no faq.fr.toml
    decision = await KnowledgeStage(knowledge)(turn)
    assert decision is not None and decision.text == "(Réponse en anglais.)\nYes, from 10 to 500 EUR."
    assert decision.details["faq_language"] == "en"
    assert any("no FAQ in fr" in line for line in turn.trace)


async def test_missing_llm_leaves_it_to_the_llm_with_the_default_entries_as_grounding(tmp_path: Path) -> None:
    config = languages_config("llm")
    knowledge = KnowledgeBase(write_kb(tmp_path), languages=("en", "zh", "fr"), default="en")
    await knowledge.load()
    turn = turn_in("gift card balance", "fr", config)
    assert await KnowledgeStage(knowledge)(turn) is None
    assert turn.candidates and turn.candidates[0].id == "gift-cards"


async def test_an_entry_only_in_the_default_language_answers_with_the_note(tmp_path: Path) -> None:
    config = Config.from_mapping({
        "languages": {"supported": ["en", "zh"], "default": "en"},
        "messages": {"zh": {"other_language_note": "（英文答案）"}},
    })
    knowledge = KnowledgeBase(write_kb(tmp_path), languages=("en", "zh"), default="en")
    await knowledge.load()
    # a Chinese customer asking in English words about an entry the Chinese FAQ lacks
    decision = await KnowledgeStage(knowledge)(turn_in("gift card balance", "zh", config))
    assert decision is not None and decision.text.startswith("（英文答案）\n")
    assert decision.details["faq_id"] == "gift-cards"


async def test_a_language_file_added_later_is_picked_up(tmp_path: Path) -> None:
    path = write_kb(tmp_path, zh=False)
    knowledge = KnowledgeBase(path, languages=("en", "zh"), default="en")
    await knowledge.load()
    assert knowledge.matcher_for("zh") is None
    language_path(path, "zh").write_text(ZH_FAQ, encoding="utf-8")
    assert await knowledge.reload()
    matcher = knowledge.matcher_for("zh")
    assert matcher is not None and matcher.language == "zh"


async def test_a_reload_that_changes_only_the_default_language_retrains(tmp_path: Path) -> None:
    """Same [kb] path, same supported languages: faq.toml is now the new default's file."""
    path = tmp_path / "faq.toml"
    path.write_text(ZH_FAQ.replace('language = "zh"', ""), encoding="utf-8")

    def config(default: str) -> Config:
        return Config.from_mapping({
            "kb": {"path": str(path)}, "languages": {"supported": ["en", "zh"], "default": default},
        })

    english, chinese = config("en"), config("zh")
    stage = KnowledgeStage(KnowledgeBase.from_config(english))
    await stage.knowledge.load()
    assert stage.knowledge.matcher_for("zh") is None  # faq.toml is English, faq.zh.toml absent
    await stage.reconfigure(english, chinese)
    matcher = stage.knowledge.matcher_for("zh")
    assert matcher is not None and matcher.language == "zh"
    decision = await stage(turn_in("我的订单什么时候到？", "zh", chinese))
    assert decision is not None and decision.text == "标准配送需要2-4个工作日。"
    await stage.__aexit__(None, None, None)


def test_kb_import_lang_writes_a_chinese_faq_that_eval_reads_as_chinese(tmp_path: Path) -> None:
    rows = ["text,label"] + [f"{q},{label}" for label, qs in {
        "shipping": ["我的订单什么时候到", "多久能送到", "配送需要几天", "什么时候能收到包裹"],
        "returns": ["我想退货", "退货政策", "我的夹克可以退吗", "怎么申请退款"],
        "password": ["我忘记密码了", "登录不了", "修改密码", "账户被锁了"],
    }.items() for q in qs]
    train = tmp_path / "train.csv"
    train.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "faq.zh.toml"
    args = argparse.Namespace(file=train, out=out, answers=None, lang="zh")
    assert cmd_kb_import(args) == 0
    assert 'language = "zh"' in out.read_text(encoding="utf-8")
    assert load_faq(out).language == "zh"
    queries = tmp_path / "queries.csv"
    queries.write_text("text,label\n包裹几天能到,shipping\n密码忘了怎么办,password\n", encoding="utf-8")
    printed = io.StringIO()
    ev = argparse.Namespace(kb=out, queries=queries, oos=None, threshold=None, json=True, sweep=False,
                            plot=None, docs=False)
    assert cmd_eval(ev, printed) == 0
    assert json.loads(printed.getvalue())["top1_accuracy"] == 1.0


def test_kb_import_refuses_an_unknown_language(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(file=tmp_path / "x.csv", out=tmp_path / "o.toml", answers=None, lang="klingon")
    assert cmd_kb_import(args) == 2
    assert "--lang" in capsys.readouterr().err


async def test_a_match_in_the_default_faq_answers_from_the_customers_own_entry(tmp_path: Path) -> None:
    config = Config.from_mapping({"languages": {"supported": ["en", "zh"], "default": "en"}})
    knowledge = KnowledgeBase(write_kb(tmp_path), languages=("en", "zh"), default="en")
    await knowledge.load()
    turn = turn_in("when will my order arrive", "zh", config)  # English words in a Chinese conversation
    decision = await KnowledgeStage(knowledge)(turn)
    assert decision is not None and decision.text == "标准配送需要2-4个工作日。"
    assert any("answered from the zh entry" in line for line in turn.trace)


def test_the_chinese_table_embeds_meaning_not_characters() -> None:
    from kb.embedding_zh import _chinese, embedder_for

    table = _chinese()

    def similarity(a: str, b: str) -> float:
        return float(table.one(a) @ table.one(b))

    assert similarity("我想退货", "我要退掉这件衣服") > similarity("我想退货", "今天天气很好") + 0.3
    assert similarity("付款方式", "怎么支付") > similarity("付款方式", "快递多久到") + 0.3
    assert similarity("退款", "退錢") > 0.4  # traditional characters read as simplified
    assert not table.one("hello 😀").any()  # nothing it can read: zeros, the n-grams decide
    assert embedder_for("zh").dim == embedder_for("en").dim + table.dim
