"""Requirements text -> the design of a site: kind, name, title, palette, tone and sections.

Deterministic by construction (no randomness, no clock): the same words always give the same
site, which is what lets the plan, the code and the tests agree when each is produced in a
separate turn, and what makes a build reproducible.

Everything here is plain text; escaping belongs to the writers (HTML, markdown, Python).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict

from tmux_builder.offline_model.palette import Palette, build_palette, detect_accent, detect_mode
from tmux_builder.offline_model.site_kinds import (
    EXTRA_SECTIONS,
    Item,
    SectionCopy,
    SiteKind,
    kind_for,
)
from tmux_builder.offline_model.text_match import has_phrase

DESIGN_VERSION = 1
NAME_MAX = 48

Tone = Literal["balanced", "minimal", "playful", "elegant"]

_TONE_WORDS: tuple[tuple[Tone, tuple[str, ...]], ...] = (
    ("minimal", ("minimal", "minimalist", "minimalistic", "simple", "clean", "understated")),
    ("playful", ("playful", "fun", "colorful", "colourful", "whimsical", "quirky", "cheerful")),
    ("elegant", ("elegant", "luxury", "luxurious", "classy", "sophisticated", "refined")),
)

_QUOTES = {'"': '"', "“": "”", "'": "'", "‘": "’", "«": "»", "`": "`"}
_CONNECTORS = frozenset({"of", "the", "and", "&", "de", "la", "le", "du", "von", "van", "y", "+"})
# Capitalised words that start sentences or name things, never a business.
_NOT_NAMES = frozenset(
    """let it that what there here he she who where today everyone nobody this they we i you
    our my your a an the please make build create dark light english spanish french german
    instagram facebook google mobile desktop""".split()  # noqa: SIM905
)
_NAMED_RE = re.compile(r"\b(?:named|called|name is|titled|brand name)\s*:?\s+(.{1,120})", re.I)
_POSSESSIVE_RE = re.compile(r"(?<![\w'’])([A-Z][\w-]*(?:\s+[A-Z][\w-]*){0,2})['’]s\b")
_FOR_RE = re.compile(r"\bfor\s+((?:the\s+)?[A-Z][^\s,.;:!?()]*(?:\s+[^\s,.;:!?()]+){0,5})")
_LOCATION_RE = re.compile(
    r"\b(?:in|based in|located in|from)\s+([A-Z][\w'-]+(?:[ -][A-Z][\w'-]+){0,2})"
)
_TRAILING_PUNCT = ",.;:!?)]}"

FONT_SANS = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif'
FONT_SERIF = 'Georgia, "Iowan Old Style", "Palatino Linotype", Palatino, "Times New Roman", serif'
FONT_ROUNDED = 'ui-rounded, "SF Pro Rounded", "Nunito", "Trebuchet MS", system-ui, sans-serif'


class SiteDesign(BaseModel):
    """Everything the plan, the site and the tests need to agree on."""

    model_config = ConfigDict(frozen=True)

    version: int = DESIGN_VERSION
    kind: str
    kind_label: str
    name: str
    title: str
    tagline: str
    hero_text: str
    cta_label: str
    audience: str
    motif: str
    palette: Palette
    tone: Tone
    heading_font: str
    body_font: str
    radius_px: int
    location: str
    sections: tuple[SectionCopy, ...]
    contact_heading: str
    contact_intro: str
    message_hint: str
    requirements: str


def design_site(requirements: str, *, name_override: str | None = None) -> SiteDesign:
    """The site for these requirements; ``name_override`` is the name a plan already chose."""
    text = _normalise(requirements)
    lower = text.lower()
    kind = kind_for(lower)
    name = _clean_name(name_override or "") or extract_name(text, kind) or kind.default_name
    location = extract_location(text)
    place = f" in {location}" if location else ""
    # "The Dark Horse", "Golden Loaf": words of the name say nothing about the colours.
    mood = lower.replace(name.lower(), " ")
    tone = detect_tone(mood)
    palette = build_palette(
        detect_mode(mood, "dark" if kind.dark_by_default else "light"),
        detect_accent(mood) or kind.accent,
    )

    def fill(value: str) -> str:
        return value.replace("{name}", name).replace("{place}", place)

    sections = tuple(_filled(section, fill) for section in (*kind.sections, *_extras(lower)))
    heading_font, body_font = _fonts(kind, tone)
    return SiteDesign(
        kind=kind.key,
        kind_label=kind.label,
        name=name,
        title=site_title(name, kind),
        tagline=fill(kind.tagline),
        hero_text=fill(kind.hero_text),
        cta_label=kind.cta,
        audience=fill(kind.audience),
        motif=kind.motif,
        palette=palette,
        tone=tone,
        heading_font=heading_font,
        body_font=body_font,
        radius_px={"minimal": 4, "playful": 22, "elegant": 2}.get(tone, 12),
        location=location,
        sections=sections,
        contact_heading=fill(kind.contact_heading),
        contact_intro=fill(kind.contact_intro),
        message_hint=fill(kind.message_hint),
        requirements=requirements.strip(),
    )


def site_title(name: str, kind: SiteKind) -> str:
    """``Name — Kind``, or ``Name — promise`` when the name already says the kind."""
    suffix_words = kind.title_suffix.lower().split()
    if all(word in name.lower() for word in suffix_words):
        return f"{name} — {kind.promise}"
    return f"{name} — {kind.title_suffix}"


def extract_name(text: str, kind: SiteKind) -> str | None:
    """The site's name from "named X", "called X", "X's ..." or "for X", in that order."""
    for match in _NAMED_RE.finditer(text):
        name = _name_from_tail(match.group(1))
        if name:
            return name
    for match in _POSSESSIVE_RE.finditer(text):
        owner = match.group(1)
        if owner.split()[0].lower() not in _NOT_NAMES:
            return _clean_name(f"{owner}'s {_brand_noun(kind)}".strip())
    for match in _FOR_RE.finditer(text):
        name = _capitalised_run(match.group(1).split())
        if name:
            return name
    return None


def extract_location(text: str) -> str:
    for match in _LOCATION_RE.finditer(text):
        place = match.group(1)
        if place.split()[0].lower() not in _NOT_NAMES:
            return place
    return ""


def detect_tone(text_lower: str) -> Tone:
    for tone, words in _TONE_WORDS:
        if any(has_phrase(text_lower, word) for word in words):
            return tone
    return "balanced"


def _name_from_tail(tail: str) -> str | None:
    tail = tail.strip()
    if tail and tail[0] in _QUOTES:
        end = tail.find(_QUOTES[tail[0]], 1)
        if end > 1:
            return _clean_name(tail[1:end])
    tokens = tail.split()
    name = _capitalised_run(tokens)
    if name:
        return name
    if tokens:
        first = tokens[0].strip(_TRAILING_PUNCT + "\"'“”‘’")
        if first and first.lower() not in _NOT_NAMES and first.lower() not in _CONNECTORS:
            return _clean_name(first[:1].upper() + first[1:])
    return None


def _capitalised_run(tokens: list[str]) -> str | None:
    """Leading capitalised words (with connectors between them): "the Green Leaf of Kyoto"."""
    taken: list[str] = []
    for index, raw in enumerate(tokens[:8]):
        word = raw.rstrip(_TRAILING_PUNCT)
        ends_here = word != raw
        if not word:
            break
        capitalised = word[0].isupper() or word[0].isdigit()
        connector = word.lower() in _CONNECTORS
        if connector and not taken and word.lower() != "the":
            break
        next_word = tokens[index + 1] if index + 1 < len(tokens) else ""
        if connector and not (next_word[:1].isupper() or next_word[:1].isdigit()):
            break
        if not capitalised and not connector:
            break
        taken.append(word)
        if ends_here:
            break
    while taken and taken[-1].lower() in _CONNECTORS:
        taken.pop()
    if taken and taken[0] == "the":
        taken[0] = "The"
    if not taken or (len(taken) == 1 and taken[0].lower() in _NOT_NAMES):
        return None
    return _clean_name(" ".join(taken))


def _clean_name(value: str) -> str:
    # Markdown emphasis (*Star*, __Star__) and stray punctuation are not part of a name.
    name = " ".join(value.split()).strip(" \t-–—:;,.\"'“”‘’`*_")
    if len(name) > NAME_MAX:
        name = name[:NAME_MAX].rsplit(" ", 1)[0] or name[:NAME_MAX]
    return name


def _brand_noun(kind: SiteKind) -> str:
    return {
        "photography": "Photography",
        "wedding": "Wedding",
        "tea": "Tea House",
        "coffee": "Coffee",
        "bakery": "Bakery",
        "restaurant": "Kitchen",
        "yoga": "Yoga",
        "gym": "Gym",
        "portfolio": "Studio",
        "blog": "Blog",
        "agency": "Agency",
        "consulting": "Consulting",
        "shop": "Shop",
    }.get(kind.key, "")


def _extras(lower: str) -> list[SectionCopy]:
    return [
        section
        for words, section in EXTRA_SECTIONS
        if any(has_phrase(lower, word) for word in words)
    ]


def _filled(section: SectionCopy, fill: Callable[[str], str]) -> SectionCopy:
    return SectionCopy(
        id=section.id,
        label=fill(section.label),
        heading=fill(section.heading),
        intro=fill(section.intro),
        layout=section.layout,
        items=tuple(
            Item(title=fill(item.title), text=fill(item.text), meta=fill(item.meta))
            for item in section.items
        ),
    )


def _fonts(kind: SiteKind, tone: Tone) -> tuple[str, str]:
    if tone == "playful":
        return FONT_ROUNDED, FONT_ROUNDED
    if tone == "minimal":
        return FONT_SANS, FONT_SANS
    if tone == "elegant" or kind.serif:
        return FONT_SERIF, FONT_SANS
    return FONT_SANS, FONT_SANS


def _normalise(requirements: str) -> str:
    """Collapse whitespace and drop control characters; keep everything else (emoji too)."""
    cleaned = "".join(ch if ch.isprintable() or ch in "\n\t" else " " for ch in requirements)
    return re.sub(r"[ \t]+", " ", cleaned).strip()
