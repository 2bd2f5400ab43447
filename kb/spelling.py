"""Spelling correction of a question against the FAQ's own words.

Why: the sentence embedding (:mod:`kb.embedding`) averages token vectors, and a
misspelt word is cut into unrelated sub-word pieces ("ordr" -> "or" "##dr",
"retrun" -> "re" "##tr" "##un"), so one typo moves the whole sentence vector;
the word n-grams lose the word too. Only the character n-grams survive, and
they alone do not carry the SVM and the calibrator (docs/kb.md, "Typos").

What: a word of the question that is neither in the FAQ's phrasings nor an
English word (a whole-word token of the MiniLM WordPiece vocabulary, ~22,000
words) is replaced by the closest FAQ word: at most one edit (insertion,
deletion, substitution, transposition of neighbours) for words of up to four
letters, two for longer ones; a two-letter word only by swapping its letters.
Ties go to the word reached with the fewest implausible slips (a letter
swapped for one that is not next to it on a QWERTY keyboard, or an extra letter
not next to its neighbours: "wher" is "where" before "when"), then to the word
the FAQ uses most (measured against first-letter and fewest-substitution
tie-breaks on BANKING77 and CLINC150 with typos: docs/kb.md). A word with
no such neighbour, or with digits, is left as it is. Each distinct word is
looked up once per matcher (a symmetric-delete index: tens of microseconds).

:meth:`Speller.read` also says how much of the question it did not recognise
(the calibrator's evidence that a question is misspelt, not off-topic), and
:func:`misspell` makes misspelt copies of held-out phrasings so that the
calibration sees typos too (:mod:`kb.matcher`).
"""

from __future__ import annotations

import random
import re
import string
from collections import Counter, defaultdict
from collections.abc import Iterable
from functools import lru_cache

from rapidfuzz import process
from rapidfuzz.distance import OSA, Levenshtein
from tokenizers import Tokenizer

from kb.embedding import MINILM_TOKENIZER

__all__ = ["WORD", "Speller", "english_words", "misspell", "next_keys"]

# A word, as the matcher's word n-grams and vocabulary see it.
WORD = re.compile(r"(?u)\b\w+\b")

# Shortest word corrected by edits (two-letter words only by swapping their
# letters), the shortest word corrected to, and the longest that gets one edit.
_MIN_LETTERS = 3
_MIN_TARGET = 2
_ONE_EDIT_UP_TO = 4
# Distinct words whose correction a speller remembers.
_CACHE = 1 << 15


class Speller:
    """Corrects questions towards the vocabulary of ``phrasings``."""

    def __init__(self, phrasings: Iterable[str], lexicon: frozenset[str]) -> None:
        counts = Counter(w for text in phrasings for w in WORD.findall(text.lower()))
        self.known = frozenset(counts) | lexicon
        targets = sorted((w for w in counts if w.isalpha() and len(w) >= _MIN_TARGET), key=lambda w: -counts[w])
        self._counts = {w: counts[w] for w in targets}
        self._index = _deletion_index(targets)
        self._fix = lru_cache(maxsize=_CACHE)(self._nearest)

    def correct(self, text: str) -> str:
        """``text`` with its unknown words replaced by their closest FAQ word."""
        return self.read(text)[0]

    def read(self, text: str) -> tuple[str, float]:
        """The corrected text, and the share of its words that are neither FAQ nor English words."""
        unknown = 0
        words = 0

        def replace(found: re.Match[str]) -> str:
            nonlocal unknown, words
            word = found.group()
            words += 1
            if word.lower() in self.known or not word.isalpha():
                return word
            unknown += 1
            fixed = self._fix(word.lower()) if len(word) >= 2 else None
            return fixed or word

        corrected = WORD.sub(replace, text)
        return corrected, unknown / words if words else 0.0

    def _nearest(self, word: str) -> str | None:
        if len(word) < _MIN_LETTERS:
            flipped = word[::-1]
            return flipped if flipped in self._counts else None
        edits = _edits(len(word))
        candidates = {t for key in _deletes(word, edits) for t in self._index.get(key, ())}
        scored = process.extract(word, candidates, scorer=OSA.distance, score_cutoff=edits, limit=None)
        if not scored:
            return None
        best = min(d for _, d, _ in scored)
        tied = [t for t, d, _ in scored if d == best]
        return min(tied, key=lambda t: (_implausible_slips(word, t), -self._counts[t]))


def _deletion_index(words: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Every string two deletions or fewer from a word, to the words it comes from
    (symmetric-delete lookup: a word within two edits of another shares such a string with it)."""
    index: dict[str, list[str]] = defaultdict(list)
    for word in words:
        for key in _deletes(word, 2):
            if len(key) >= _MIN_LETTERS - 1:
                index[key].append(word)
    return {key: tuple(found) for key, found in index.items()}


def _deletes(word: str, edits: int) -> set[str]:
    """``word`` and every string made from it by deleting up to ``edits`` letters."""
    out = {word}
    frontier = {word}
    for _ in range(edits):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))}
        out |= frontier
    return out


_KEYBOARD = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
# Key centres, each row shifted half a key to the right of the one above.
_KEYS = {ch: (row, col + 0.5 * row) for row, keys in enumerate(_KEYBOARD) for col, ch in enumerate(keys)}


def next_keys(a: str, b: str) -> bool:
    """True if ``a`` and ``b`` are the same key or neighbours on a QWERTY keyboard."""
    if a == b:
        return True
    pa, pb = _KEYS.get(a), _KEYS.get(b)
    return pa is not None and pb is not None and abs(pa[0] - pb[0]) <= 1 and abs(pa[1] - pb[1]) <= 1.0


def _implausible_slips(typed: str, word: str) -> int:
    """How many of the edits from ``typed`` to ``word`` are unlikely typing slips.

    A dropped letter is always plausible, a swap of neighbours too; a wrong
    letter only if its key is next to the right one, an extra letter only if
    it is next to a letter beside it.
    """
    if OSA.distance(typed, word) < Levenshtein.distance(typed, word):
        return 0  # a swap of two neighbouring letters
    slips = 0
    for kind, i, j in Levenshtein.editops(typed, word).as_list():
        if kind == "replace":
            slips += not next_keys(typed[i], word[j])
        elif kind == "delete":
            slips += not any(next_keys(typed[i], typed[k]) for k in (i - 1, i + 1) if 0 <= k < len(typed))
    return slips


def _edits(letters: int) -> int:
    """Edits allowed to correct a word of ``letters`` letters."""
    return 1 if letters <= _ONE_EDIT_UP_TO else 2


def misspell(text: str, rng: random.Random, rate: float) -> str:
    """``text`` with one or two random letter edits in each word, with probability ``rate``
    (random letters, not keyboard slips: the calibration should not learn one typist)."""
    return WORD.sub(lambda m: _slips(m.group(), rng) if m.group().isalpha() and rng.random() < rate else m.group(), text)


def _slips(word: str, rng: random.Random) -> str:
    for _ in range(rng.choice((1, 2))):
        word = _slip(word, rng)
    return word


def _slip(word: str, rng: random.Random) -> str:
    i = rng.randrange(len(word))
    letter = rng.choice(string.ascii_lowercase)
    kind = rng.randrange(4) if len(word) > 1 else 1 + rng.randrange(2)
    if kind == 0:
        return word[:i] + word[i + 1 :]
    if kind == 1:
        return word[:i] + letter + word[i:]
    if kind == 2:
        return word[:i] + letter + word[i + 1 :]
    i = min(i, len(word) - 2)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """Whole-word tokens of the MiniLM WordPiece vocabulary (lower case, letters only)."""
    vocab = Tokenizer.from_file(str(MINILM_TOKENIZER)).get_vocab()
    return frozenset(t for t in vocab if t.isalpha() and not t.startswith("##"))
