"""How rare an English word is: the weight of a shared word as evidence that two reports match.

Word frequencies come from the ``wordfreq`` package (general English, Zipf scale: 7 = "the",
3 = once per million words). Names and specific nouns ("Griffith", "Nabizada", "conjoined")
are rare; function and everyday words are not. Only the ~30k words with Zipf >= 3 are kept in
memory (about 3 MB instead of 37 MB): every other word is rare enough to weigh ``MAX_WEIGHT``.
"""

from __future__ import annotations

import math
from functools import cache, lru_cache

MAX_WEIGHT = 3.5  # a word rarer than once per million words (Zipf < 3), or unknown
_COMMON_ZIPF = 6.0  # Zipf at or above which a word weighs nothing ("said", "people")
_KEEP_ZIPF = 3.0


@cache
def _zipf_table() -> dict[str, float]:
    import wordfreq  # loaded once, on first use: ~0.4 s

    table = {}
    for word, freq in wordfreq.get_frequency_dict("en").items():
        zipf = math.log10(freq * 1e9)
        if zipf >= _KEEP_ZIPF:
            table[word] = round(zipf, 2)
    return table


@lru_cache(maxsize=1 << 16)
def weight(word: str) -> float:
    """0 for very common words, up to ``MAX_WEIGHT`` for rare ones (lower-cased lookup)."""
    zipf = _zipf_table().get(word.lower().replace("\u2019", "'"))
    if zipf is None:
        return MAX_WEIGHT
    return max(0.0, min(MAX_WEIGHT, _COMMON_ZIPF - zipf))
