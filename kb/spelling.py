"""Spelling correction of a question against the FAQ's own words, in context.

Why: the sentence embedding (:mod:`kb.embedding`) averages token vectors, and a
misspelt word is cut into unrelated sub-word pieces ("ordr" -> "or" "##dr",
"retrun" -> "re" "##tr" "##un"), so one typo moves the whole sentence vector;
the word n-grams lose the word too. Only the character n-grams survive, and
they alone do not carry the SVM and the calibrator (docs/kb.md, "Typos").

What: a noisy channel. Each word of the question that the FAQ's phrasings do
not use becomes the FAQ word that best explains it: the candidates are the FAQ
words within one edit (words of one letter) or two (insertion, deletion,
substitution, transposition of neighbours), each scored by

* what the edits cost: ``_EDIT`` per edit, plus ``_SLIP`` per implausible slip
  (a letter swapped for one that is not next to it on a QWERTY keyboard, or an
  extra letter not next to its neighbours: "wher" is "where" before "when");
* how likely the FAQ makes the candidate after the word before it and before
  the word after it (a bigram model of the phrasings, smoothed towards word
  frequency): "I want ot send" is "to", "when does ot ship" is "it", "my cdr"
  is "card".

An English word the FAQ does not use (a whole-word token of the MiniLM
WordPiece vocabulary, ~22,000, many of them fragments like "ot" or "ik") is
kept unless a candidate beats keeping it, at ``_KEEP``; a word that is neither
keeps itself only when nothing is near. A word the FAQ does use is a typo only
when its context says so strongly: a one-edit candidate must beat it by
``_REAL`` more ("I need another car" is "card", "rent a car" stays). Words with
digits are left as they are. Measured against the nearest-word corrector this
replaces, on BANKING77 and CLINC150 with typos: docs/kb.md, "Typos".

Costs: a distinct unknown word's candidates are found once per matcher (a
symmetric-delete index, then rapidfuzz), the context is a few dict lookups per
candidate, and a word the FAQ uses is re-examined only when its context leaves
room for a better one (a bound, below), so a question costs tens to hundreds of
microseconds.

:meth:`Speller.read` also says how much of the question it did not recognise
as written (the calibrator's evidence that a question is misspelt, not
off-topic), and :func:`misspell` makes misspelt copies of held-out phrasings so
that the calibration sees typos too (:mod:`kb.matcher`).
"""

from __future__ import annotations

import itertools
import math
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

# Costs, in nats (natural-log odds), tuned on the BANKING77 and CLINC150
# validation splits with typos (docs/kb.md): an edit, an implausible slip on
# top of it, keeping an English word the FAQ does not use, and changing a word
# the FAQ does use (on top of its edit).
_EDIT = 3.0
_SLIP = 3.0
_KEEP = 9.0
_REAL = 6.0
# Smoothing of the bigram model (pseudo-counts spread by word frequency).
_KAPPA = 20.0
# Candidates kept per word (the likeliest by edits and frequency; slips are
# counted only for those whose context could make them win).
_CANDIDATES = 25
# Distinct words whose candidates a speller remembers.
_CACHE = 1 << 15
_START, _END = "<s>", "</s>"


class Speller:
    """Corrects questions towards the vocabulary of ``phrasings``."""

    def __init__(self, phrasings: Iterable[str], lexicon: frozenset[str]) -> None:
        counts: Counter[str] = Counter()
        pairs: Counter[tuple[str, str]] = Counter()
        for text in phrasings:
            words = [_START, *WORD.findall(text.lower()), _END]
            counts.update(words)
            pairs.update(itertools.pairwise(words))
        starts = counts.pop(_START, 0)
        self._faq = frozenset(w for w in counts if w != _END)
        self.known = self._faq | lexicon
        self._lexicon = lexicon
        total = sum(counts.values())
        # log P(word), and log(followers + kappa) of each left context.
        self._logu = {w: math.log((n + 0.5) / total) for w, n in counts.items()}
        self._log_left = {w: math.log(n + _KAPPA) for w, n in counts.items()}
        self._log_left[_START] = math.log(starts + _KAPPA)
        self._log_pair = {
            pair: math.log(n + _KAPPA * math.exp(self._logu[pair[1]])) - self._log_left[pair[0]]
            for pair, n in pairs.items()
        }
        self._log_kappa = math.log(_KAPPA)
        self._index = _deletion_index(w for w in self._faq if w.isalpha())
        self._near = lru_cache(maxsize=_CACHE)(self._candidates)
        self._slips_from = lru_cache(maxsize=_CACHE)(self._one_slip)

    def correct(self, text: str) -> str:
        """``text`` with its misspelt words replaced by the FAQ words they most likely are."""
        return self.read(text)[0]

    def read(self, text: str) -> tuple[str, float]:
        """The corrected text, and the share of its words not recognised as written
        (changed, or neither FAQ nor English words)."""
        found = list(WORD.finditer(text))
        if not found:
            return text, 0.0
        words = [m.group().lower() for m in found]
        fixed = list(words)
        unknown = 0
        for i, word in enumerate(words):
            if not word.isalpha():
                continue
            before = fixed[i - 1] if i else _START
            after = words[i + 1] if i + 1 < len(words) else _END
            if word in self._faq:
                fixed[i] = self._recheck(word, before, after)
            else:
                fixed[i] = self._choose(word, before, after)
            unknown += fixed[i] != word or word not in self.known
        if fixed == words:
            return text, unknown / len(words)
        pieces = []
        end = 0
        for found_word, word, new in zip(found, words, fixed, strict=True):
            pieces += (text[end : found_word.start()], found_word.group() if new == word else new)
            end = found_word.end()
        pieces.append(text[end:])
        return "".join(pieces), unknown / len(words)

    def _choose(self, word: str, before: str, after: str) -> str:
        """The best explanation of a word the FAQ does not use (itself if nothing is near)."""
        best, best_score = word, -math.inf
        logu, pairs, left = self._logu, self._log_pair, self._log_left
        after_known = after in logu
        if word in self._lexicon:
            best_score = -_KEEP + logu.get(after, 0.0)
        # _context, inlined: this loop is most of the speller's time.
        before_left = left.get(before)
        after_kappa = self._log_kappa + logu[after] if after_known else 0.0
        for candidate, d in self._near(word):
            if before_left is None:
                score = logu[candidate]
            else:
                score = pairs.get((before, candidate))
                if score is None:
                    score = self._log_kappa + logu[candidate] - before_left
            if after_known:
                follows = pairs.get((candidate, after))
                score += after_kappa - left[candidate] if follows is None else follows
            score -= _EDIT * d
            if score > best_score:
                # Implausible slips only lower a score: count them only for a candidate that could win.
                score -= _SLIP * _implausible_slips(word, candidate, d)
                if score > best_score:
                    best, best_score = candidate, score
        return best

    def _recheck(self, word: str, before: str, after: str) -> str:
        """A word the FAQ uses, or the one-edit FAQ word its context prefers by far."""
        stay = self._context(word, before, after)
        if stay >= -(_REAL + _EDIT):
            return word  # no candidate can do better: its context scores at most 0
        best, best_score = word, stay
        for candidate in self._slips_from(word):
            score = self._context(candidate, before, after) - _EDIT - _REAL
            if score > best_score:
                best, best_score = candidate, score
        return best

    def _context(self, word: str, before: str, after: str) -> float:
        """log P(word | before) + log P(after | word), a side left out where it is not an FAQ word."""
        score = self._follows(word, before) if before in self._log_left else self._logu[word]
        if after in self._logu:
            score += self._follows(after, word)
        return score

    def _follows(self, word: str, before: str) -> float:
        found = self._log_pair.get((before, word))
        if found is not None:
            return found
        return self._log_kappa + self._logu[word] - self._log_left[before]

    def _one_slip(self, word: str) -> tuple[str, ...]:
        """The other FAQ words one plausible slip away from ``word``."""
        near = {t for key in _deletes(word, 1) for t in self._index.get(key, ()) if t != word}
        one = (t for t in near if OSA.distance(word, t, score_cutoff=1) <= 1)
        return tuple(t for t in one if not _implausible_slips(word, t, 1))

    def _candidates(self, word: str) -> tuple[tuple[str, float], ...]:
        """FAQ words within reach of ``word`` and their (OSA) edit distance, the likeliest first."""
        edits = 1 if len(word) < 2 else 2
        near = {t for key in _deletes(word, edits) for t in self._index.get(key, ())}
        scored = process.extract(word, near, scorer=OSA.distance, score_cutoff=edits, limit=None)
        logu = self._logu
        likeliest = sorted((_EDIT * d - logu[t], d, t) for t, d, _ in scored)[:_CANDIDATES]
        return tuple((t, d) for _, d, t in likeliest)


def _deletion_index(words: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Every string two deletions or fewer from a word, to the words it comes from
    (symmetric-delete lookup: a word within two edits of another shares such a string with it)."""
    index: dict[str, list[str]] = defaultdict(list)
    for word in words:
        for key in _deletes(word, 2):
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
# Pairs of different keys next to each other.
_NEIGHBOURS = frozenset(
    (a, b)
    for a, (ra, ca) in _KEYS.items()
    for b, (rb, cb) in _KEYS.items()
    if a != b and abs(ra - rb) <= 1 and abs(ca - cb) <= 1.0
)


def next_keys(a: str, b: str) -> bool:
    """True if ``a`` and ``b`` are the same key or neighbours on a QWERTY keyboard."""
    return a == b or (a, b) in _NEIGHBOURS


def _implausible_slips(typed: str, word: str, distance: int) -> int:
    """How many of the edits from ``typed`` to ``word`` are unlikely typing slips.

    A dropped letter is always plausible, a swap of neighbours too; a wrong
    letter only if its key is next to the right one, an extra letter only if
    it is next to a letter beside it. ``distance`` is their OSA distance.
    """
    edits = Levenshtein.editops(typed, word)
    if len(edits) > distance:
        return 0  # a swap of two neighbouring letters
    slips = 0
    for kind, i, j in edits.as_list():
        if kind == "replace":
            slips += (typed[i], word[j]) not in _NEIGHBOURS
        elif kind == "delete":
            slips += not any(next_keys(typed[i], typed[k]) for k in (i - 1, i + 1) if 0 <= k < len(typed))
    return slips


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
