"""Word-boundary phrase matching for the keyword tables (so "tea" never matches "team")."""

from __future__ import annotations

import re
from functools import lru_cache


@lru_cache(maxsize=512)
def _phrase_re(phrase: str) -> re.Pattern[str]:
    words = [re.escape(word) for word in phrase.lower().split()]
    return re.compile(r"(?<!\w)" + r"[\s-]+".join(words) + r"(?!\w)")


def phrase_position(text_lower: str, phrase: str) -> int | None:
    """Where a phrase first occurs as whole words (spaces or hyphens between them), or None."""
    match = _phrase_re(phrase).search(text_lower)
    return match.start() if match else None


def has_phrase(text_lower: str, phrase: str) -> bool:
    return phrase_position(text_lower, phrase) is not None


def first_position(text_lower: str, phrases: tuple[str, ...]) -> int | None:
    positions = [p for p in (phrase_position(text_lower, ph) for ph in phrases) if p is not None]
    return min(positions) if positions else None
