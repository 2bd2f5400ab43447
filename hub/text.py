"""Text normalisation for matching: rules, hand-off phrases, the turn's folded text.

Folding makes matching forgiving: case, Latin/Greek/Cyrillic accents,
compatibility forms (full-width ``ｒｅｔｕｒｎ``, half-width katakana ``ｶﾞ``, the
``ﬁ`` ligature) and traditional against simplified Chinese characters (``退貨``
is ``退货``: OpenCC's ``t2s`` table, opencc-python-reimplemented) do not matter. Marks that are letters of their script (Japanese
dakuten, Thai and Devanagari vowel signs) are kept: dropping them would turn
``ガ`` into ``カ``.

Phrases match as whole words only where a script separates its words with
spaces. Chinese, Japanese, Thai, Lao, Khmer, Myanmar and Tibetan write words
without spaces, so a phrase in (or next to) those scripts matches as a
substring: ``退货`` matches ``我想退货`` and ``returns退货``, while ``return``
still does not match ``returns``. Substring matching was preferred to word
segmentation (jieba): a segmenter hides a keyword inside a longer word (``订单``
in ``订单号``, ``发票`` in ``开发票``), and costs ~0.4 ms per message.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any

__all__ = ["UNSPACED_SCRIPTS", "fold", "phrase_regex", "simplified"]

# Code point ranges of the scripts that do not put spaces between words.
UNSPACED_SCRIPTS = (
    "\u0e00-\u0eff"  # Thai, Lao
    "\u0f00-\u0fff"  # Tibetan
    "\u1000-\u109f"  # Myanmar
    "\u1780-\u17ff\u19e0-\u19ff"  # Khmer
    "\u2e80-\u2fdf"  # CJK radicals
    "\u3005-\u3007\u3021-\u3029\u3031-\u3035\u303b\u303c"  # 々 〆 〇, ideographic marks
    "\u3040-\u30ff\u31f0-\u31ff"  # Hiragana, Katakana
    "\u3100-\u312f\u31a0-\u31bf"  # Bopomofo
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # CJK ideographs
    "\U00020000-\U0003134f"  # CJK extensions B-G
)
# A word character of a script that separates words with spaces (\w minus the above).
_SPACED_WORD = f"[^\\W{UNSPACED_SCRIPTS}]"
_IS_SPACED_WORD = re.compile(_SPACED_WORD)


def fold(text: str) -> str:
    """Lower-case, strip accents and collapse white space: "Crème  Brûlée" -> "creme brulee"."""
    if text.isascii():  # the common case, ten times cheaper
        return " ".join(text.lower().split())
    decomposed = unicodedata.normalize("NFKD", text)
    kept = []
    base = ""
    for char in decomposed:
        if not unicodedata.combining(char):
            base = char
        elif _is_accent_of(base):
            continue
        kept.append(char)
    composed = simplified(unicodedata.normalize("NFC", "".join(kept)))
    return " ".join(composed.casefold().split())


_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def simplified(text: str) -> str:
    """Traditional Chinese characters as simplified ones (OpenCC ``t2s``); other text unchanged."""
    if _HAN.search(text) is None:
        return text
    return _t2s().convert(text)


@lru_cache(maxsize=1)
def _t2s() -> Any:
    from opencc import OpenCC  # opencc-python-reimplemented: pure Python, dictionaries in the wheel

    return OpenCC("t2s")


def _is_accent_of(base: str) -> bool:
    """Marks on Latin, Greek and Cyrillic letters are accents; elsewhere they are letters."""
    point = ord(base) if base else 0
    return point < 0x0530 or 0x1E00 <= point < 0x2000


@lru_cache(maxsize=1024)
def phrase_regex(phrases: tuple[str, ...]) -> re.Pattern[str] | None:
    """One regex matching any phrase as whole words (see the module docstring), on folded text."""
    groups: dict[tuple[bool, bool], list[str]] = {}
    for phrase in phrases:
        folded = fold(phrase)
        if folded:
            ends = (_spaced(folded[0]), _spaced(folded[-1]))
            groups.setdefault(ends, []).append(r"\s+".join(map(re.escape, folded.split())))
    if not groups:
        return None
    # One lookaround per group, not per phrase: a lookbehind in front of every
    # alternative costs ten times more on each message.
    return re.compile("|".join(_group(head, tail, parts) for (head, tail), parts in groups.items()))


def _spaced(char: str) -> bool:
    return _IS_SPACED_WORD.match(char) is not None


def _group(head: bool, tail: bool, parts: list[str]) -> str:
    """Phrases with the same ends: a word boundary at an end only between spaced words."""
    parts.sort(key=len, reverse=True)
    before = f"(?<!{_SPACED_WORD})" if head else ""
    after = f"(?!{_SPACED_WORD})" if tail else ""
    return f"{before}(?:{'|'.join(parts)}){after}"
