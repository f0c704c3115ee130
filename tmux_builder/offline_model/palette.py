"""Colours for a generated site: a light or dark base tinted by one accent.

Contrast is computed (WCAG relative luminance) rather than trusted: a navy accent on a dark
background must still give readable links, so the text version of the accent is lightened or
darkened until it reaches 4.5:1.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from tmux_builder.offline_model.text_match import phrase_position

Mode = Literal["light", "dark"]

# Accent colours a requirement can name. Black and white are mode hints, not accents.
COLOR_WORDS: dict[str, str] = {
    "blue": "#2f6fdb",
    "navy": "#1f3a93",
    "sky blue": "#3a9ad9",
    "green": "#2e8b57",
    "olive": "#7a8b3a",
    "mint": "#3eb489",
    "teal": "#14908a",
    "turquoise": "#1ab0b0",
    "red": "#d64545",
    "burgundy": "#8c1c3a",
    "maroon": "#8c1c3a",
    "coral": "#ff6f61",
    "orange": "#e8772e",
    "yellow": "#e0b000",
    "gold": "#c9a227",
    "golden": "#c9a227",
    "pink": "#e0559b",
    "rose": "#d46a88",
    "purple": "#7b4bd6",
    "violet": "#7b4bd6",
    "lavender": "#9b87d6",
    "brown": "#8b5a2b",
    "grey": "#6b7280",
    "gray": "#6b7280",
    "silver": "#9aa3ad",
}

_DARK_WORDS = ("dark", "night", "black", "midnight", "moody")
_LIGHT_WORDS = ("light", "bright", "white", "airy", "pastel")


class Palette(BaseModel):
    model_config = ConfigDict(frozen=True)

    mode: Mode
    background: str
    surface: str
    surface_alt: str
    text: str
    muted: str
    border: str
    accent: str
    accent_ink: str
    on_accent: str


def detect_mode(text_lower: str, default: Mode) -> Mode:
    """``dark theme``/``light mode`` win; otherwise the first mood word; otherwise the default."""
    for mode in ("dark", "light"):
        for suffix in ("theme", "mode", "background", "palette", "design"):
            if phrase_position(text_lower, f"{mode} {suffix}") is not None:
                return mode  # type: ignore[return-value]
    dark = _first(text_lower, _DARK_WORDS)
    light = _first(text_lower, _LIGHT_WORDS)
    if dark is None and light is None:
        return default
    if light is None or (dark is not None and dark < light):
        return "dark"
    return "light"


def detect_accent(text_lower: str) -> str | None:
    """The first colour word in the requirements ("sky blue" before "blue")."""
    found: list[tuple[int, int, str]] = []
    for word, hex_value in COLOR_WORDS.items():
        position = phrase_position(text_lower, word)
        if position is not None:
            found.append((position, -len(word), hex_value))
    return min(found)[2] if found else None


def build_palette(mode: Mode, accent: str) -> Palette:
    if mode == "dark":
        base = {
            "background": "#111318",
            "surface": "#1a1d24",
            "surface_alt": "#232731",
            "text": "#ecebe8",
            "muted": "#a9adb8",
            "border": "#30353f",
        }
        ink_target = "#ffffff"
    else:
        base = {
            "background": "#faf8f5",
            "surface": "#ffffff",
            "surface_alt": "#f2eee8",
            "text": "#1e2024",
            "muted": "#555b66",
            "border": "#e2ddd5",
        }
        ink_target = "#000000"
    background = mix(base["background"], accent, 0.05)
    surface_alt = mix(base["surface_alt"], accent, 0.08)
    accent_ink = accent
    for step in range(1, 11):
        if contrast(accent_ink, background) >= 4.5:
            break
        accent_ink = mix(accent, ink_target, step / 10)
    on_accent = (
        "#ffffff" if contrast("#ffffff", accent) >= contrast("#111111", accent) else "#111111"
    )
    return Palette(
        mode=mode,
        background=background,
        surface=base["surface"],
        surface_alt=surface_alt,
        text=base["text"],
        muted=base["muted"],
        border=base["border"],
        accent=accent,
        accent_ink=accent_ink,
        on_accent=on_accent,
    )


def mix(color: str, other: str, amount: float) -> str:
    """``color`` moved ``amount`` (0..1) of the way towards ``other``."""
    a, b = _rgb(color), _rgb(other)
    channels = (round(x + (y - x) * amount) for x, y in zip(a, b, strict=True))
    return "#" + "".join(f"{c:02x}" for c in channels)


def contrast(foreground: str, background: str) -> float:
    lighter, darker = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def _luminance(color: str) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in _rgb(color))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _rgb(color: str) -> tuple[int, int, int]:
    value = color.lstrip("#")
    if len(value) != 6:
        raise ValueError(f"not a #rrggbb colour: {color!r}")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def _first(text_lower: str, words: tuple[str, ...]) -> int | None:
    positions = [p for p in (phrase_position(text_lower, w) for w in words) if p is not None]
    return min(positions) if positions else None
