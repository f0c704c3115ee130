"""Small inline SVG illustrations, one per kind of site.

The build machine is offline and the site must not depend on anything outside its own files, so
visuals are drawn with SVG and CSS gradients rather than fetched stock photographs. Inline
``<svg>`` (not a data-URI ``<img>``) keeps every line of ``index.html`` short enough for the
CLI's Read tool, which truncates very long lines.
"""

from __future__ import annotations

from html import escape

from tmux_builder.offline_model.palette import Palette

# Shapes on a 120x120 canvas; {a} accent, {b} tile background, {t} ink.
_GLYPHS: dict[str, tuple[str, ...]] = {
    "cup": (
        '<path d="M34 52h44v18a22 22 0 0 1-22 22a22 22 0 0 1-22-22z" fill="{a}"/>',
        '<path d="M78 58h6a9 9 0 0 1 0 18h-8" fill="none" stroke="{a}" stroke-width="5"/>',
        '<path d="M46 30c-4 6 4 10 0 16M58 28c-4 6 4 10 0 16M70 30c-4 6 4 10 0 16" '
        'fill="none" stroke="{t}" stroke-width="3" stroke-linecap="round" opacity=".6"/>',
        '<rect x="28" y="94" width="56" height="5" rx="2.5" fill="{t}" opacity=".5"/>',
    ),
    "leaf": (
        '<path d="M60 18C92 34 94 78 60 102C26 78 28 34 60 18Z" fill="{a}"/>',
        '<path d="M60 30V96M60 50l-12-9M60 64l13-10M60 78l-11-8" stroke="{b}" '
        'stroke-width="3" fill="none" stroke-linecap="round"/>',
    ),
    "wheat": (
        '<ellipse cx="60" cy="72" rx="40" ry="24" fill="{a}"/>',
        '<path d="M40 64l8 14M56 60l8 16M72 60l8 14" stroke="{b}" stroke-width="4" '
        'stroke-linecap="round"/>',
        '<path d="M60 44V18M60 26l-7-6M60 34l-7-6M60 26l7-6M60 34l7-6" stroke="{t}" '
        'stroke-width="3" fill="none" stroke-linecap="round" opacity=".6"/>',
    ),
    "plate": (
        '<circle cx="60" cy="62" r="32" fill="{a}"/>',
        '<circle cx="60" cy="62" r="20" fill="{b}"/>',
        '<path d="M16 32v12a4 4 0 0 0 8 0V32M20 48v44M100 32c-8 8-8 24 0 28v32" '
        'stroke="{t}" stroke-width="3" fill="none" stroke-linecap="round" opacity=".7"/>',
    ),
    "camera": (
        '<rect x="20" y="40" width="80" height="54" rx="10" fill="{a}"/>',
        '<rect x="44" y="30" width="32" height="14" rx="4" fill="{a}"/>',
        '<circle cx="60" cy="67" r="18" fill="{b}"/>',
        '<circle cx="60" cy="67" r="10" fill="{t}" opacity=".7"/>',
        '<circle cx="88" cy="50" r="3" fill="{b}"/>',
    ),
    "code": (
        '<path d="M44 40L24 60l20 20M76 40l20 20-20 20" fill="none" stroke="{a}" '
        'stroke-width="8" stroke-linecap="round" stroke-linejoin="round"/>',
        '<path d="M66 32L54 88" stroke="{t}" stroke-width="6" stroke-linecap="round" '
        'opacity=".7"/>',
    ),
    "pen": (
        '<rect x="30" y="22" width="60" height="78" rx="6" fill="{a}"/>',
        '<path d="M42 42h36M42 54h36M42 66h24" stroke="{b}" stroke-width="4" '
        'stroke-linecap="round"/>',
    ),
    "spark": (
        '<path d="M60 16l10 30 30 10-30 10-10 30-10-30-30-10 30-10z" fill="{a}"/>',
        '<circle cx="92" cy="88" r="8" fill="{t}" opacity=".5"/>',
    ),
    "dumbbell": (
        '<rect x="24" y="40" width="12" height="40" rx="3" fill="{a}"/>',
        '<rect x="84" y="40" width="12" height="40" rx="3" fill="{a}"/>',
        '<rect x="14" y="48" width="10" height="24" rx="3" fill="{a}"/>',
        '<rect x="96" y="48" width="10" height="24" rx="3" fill="{a}"/>',
        '<rect x="36" y="56" width="48" height="8" rx="3" fill="{t}" opacity=".7"/>',
    ),
    "lotus": (
        '<path d="M60 30c12 14 12 36 0 54c-12-18-12-40 0-54z" fill="{a}"/>',
        '<path d="M60 84c-20-2-36-16-38-36c18 2 32 14 38 36zM60 84c20-2 36-16 38-36'
        'c-18 2-32 14-38 36z" fill="{a}" opacity=".75"/>',
        '<path d="M30 94h60" stroke="{t}" stroke-width="3" stroke-linecap="round" opacity=".5"/>',
    ),
    "rings": (
        '<circle cx="48" cy="66" r="22" fill="none" stroke="{a}" stroke-width="7"/>',
        '<circle cx="72" cy="66" r="22" fill="none" stroke="{t}" stroke-width="7" opacity=".7"/>',
        '<path d="M48 38l7-9H41z" fill="{a}"/>',
    ),
    "bag": (
        '<path d="M28 46h64l-6 52H34z" fill="{a}"/>',
        '<path d="M46 50V38a14 14 0 0 1 28 0v12" fill="none" stroke="{t}" stroke-width="5" '
        'stroke-linecap="round"/>',
    ),
    "chart": (
        '<rect x="26" y="66" width="14" height="28" rx="2" fill="{a}" opacity=".6"/>',
        '<rect x="48" y="52" width="14" height="42" rx="2" fill="{a}" opacity=".8"/>',
        '<rect x="70" y="36" width="14" height="58" rx="2" fill="{a}"/>',
        '<path d="M24 56l24-14 20 8 28-24" fill="none" stroke="{t}" stroke-width="4" '
        'stroke-linecap="round" stroke-linejoin="round"/>',
    ),
}


def motif_svg(motif: str, palette: Palette, label: str) -> list[str]:
    """The illustration as lines of inline SVG, with an accessible name."""
    glyph = _GLYPHS.get(motif, _GLYPHS["spark"])
    colours = {"a": palette.accent, "b": palette.surface_alt, "t": palette.text}
    lines = [
        '<svg class="hero-svg" viewBox="0 0 120 120" width="320" height="320" role="img" '
        'aria-labelledby="hero-art-title" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="hero-art-title">{escape(label)}</title>',
        f'<rect width="120" height="120" rx="24" fill="{palette.surface_alt}"/>',
        f'<circle cx="98" cy="22" r="12" fill="{palette.accent}" opacity=".25"/>',
        f'<circle cx="18" cy="104" r="8" fill="{palette.accent}" opacity=".2"/>',
    ]
    lines.extend(shape.format(**colours) for shape in glyph)
    lines.append("</svg>")
    return lines


def favicon_data_uri(palette: Palette) -> str:
    """A tiny inline icon, so the browser never asks the server for /favicon.ico (a 404)."""
    accent = palette.accent.replace("#", "%23")
    return (
        "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E"
        f"%3Ccircle cx='8' cy='8' r='7' fill='{accent}'/%3E%3C/svg%3E"
    )
