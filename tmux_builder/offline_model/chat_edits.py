"""Chat messages that change the site: the offline model's side of ``prompts/chat-<id>.txt``.

A chat turn goes like a task turn (see :mod:`brain`): Read the prompt file, Read
``code/index.html`` and the page's stylesheet (``code/styles.css`` on a static site,
``code/assets/styles.css`` on a dynamic one, whose static files live under the contract's
assets folder), Write the files that change, end with a short markdown answer. What to change
is decided here, deterministically, from the person's words:

- colours: "make the background blue", "use green as the main colour", "dark mode", "a light
  theme";
- the name: "call the site X", "change the title to X" (title, h1, brand, footer, e-mail);
- the hero: "change the headline to ..." (the tagline under the h1; the h1 stays the site's
  name), "change the intro text to ...";
- sections: "add a section about our opening hours" (prices, team, FAQ, reviews or any topic),
  "remove the FAQ section" (never the top of the page or the contact form).

The page stays consistent with itself: every section has one navigation link, navigation links
only point at sections that exist, the h1 is the site's name and the title starts with it, so
the end-to-end tests written from the page still make sense. Anything else gets a helpful answer
and changes nothing.

The chat prompt file (format version 1, written by the agent)::

    # Chat
    Message id: <message id>
    Session: <session id>

    ## Message
    > <the person's words, every line quoted>

    ## Instructions
    <numbered instructions for a real model>
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from html import escape, unescape
from pathlib import PurePosixPath

from pydantic import BaseModel, ConfigDict

from tmux_builder.naming import slugify
from tmux_builder.offline_model.deliverables import Deliverable
from tmux_builder.offline_model.dynamic_app_writer import DYNAMIC_STYLES_PATH
from tmux_builder.offline_model.motifs import favicon_data_uri
from tmux_builder.offline_model.palette import (
    COLOR_WORDS,
    Mode,
    Palette,
    build_palette,
    contrast,
    mix,
)
from tmux_builder.offline_model.plan_writer import md
from tmux_builder.offline_model.site_kinds import EXTRA_SECTIONS, Item, SectionCopy
from tmux_builder.offline_model.site_writer import (
    CONTACT_SECTION_ID,
    INDEX_PATH,
    SITE_DIR,
    STYLES_PATH,
)
from tmux_builder.offline_model.site_writer import _section as render_section
from tmux_builder.offline_model.text_match import has_phrase, phrase_position

CHAT_PREFIX = "chat-"
# Where a site's stylesheet can be: a static site's, then a dynamic site's (under its assets).
STYLESHEETS = (STYLES_PATH, DYNAMIC_STYLES_PATH)
# What a chat turn reads before it changes anything (relative to the working directory); a
# stylesheet the site does not have is simply not there (its Read fails).
CHAT_INPUTS = (INDEX_PATH, *STYLESHEETS)
NAME_MAX = 48
TEXT_MAX = 300


class ChatPromptError(ValueError):
    """The file is not a chat prompt file."""


class ChatPrompt(BaseModel):
    model_config = ConfigDict(frozen=True)

    message_id: str
    message: str


def is_chat_reference(reference: str) -> bool:
    """Whether a prompt-file path names a chat message (``prompts/chat-<id>.txt``)."""
    return PurePosixPath(reference).stem.startswith(CHAT_PREFIX)


_CHAT_TITLE_RE = re.compile(r"^\s*#\s*chat\b", re.I)
_SECTION_RE = re.compile(r"^\s*##\s*(.+?)\s*#*\s*$")
_MESSAGE_ID_RE = re.compile(r"^\s*message id\s*:\s*(\S+)\s*$", re.I)


def parse_chat_prompt(text: str, *, fallback_id: str = "chat") -> ChatPrompt:
    lines = text.splitlines()
    first = next((line for line in lines if line.strip()), "")
    if not _CHAT_TITLE_RE.match(first):
        raise ChatPromptError("it does not start with '# Chat'")
    message_id = fallback_id
    section: str | None = None
    message: list[str] = []
    for line in lines:
        heading = _SECTION_RE.match(line)
        if heading:
            section = heading.group(1).strip().lower()
            continue
        found = _MESSAGE_ID_RE.match(line) if section is None else None
        if found:
            message_id = found.group(1)
        elif section == "message":
            message.append(re.sub(r"^\s*> ?", "", line))
    words = "\n".join(message).strip()
    if not words:
        raise ChatPromptError("its Message section is empty")
    return ChatPrompt(message_id=message_id, message=words)


# ------------------------------------------------------------------------------ the page


class EditRefused(Exception):
    """A request understood but not carried out; the message says why, to the person."""


@dataclass
class SitePage:
    """The two files a chat edit works on, changed in place (``styles_path``: where the CSS is)."""

    html: str
    css: str
    styles_path: str = STYLES_PATH

    @property
    def name(self) -> str:
        found = re.search(r"<h1\b[^>]*>(.*?)</h1>", self.html, re.S)
        return _text(found.group(1)) if found else ""

    def section_ids(self) -> list[str]:
        return re.findall(r"<section\b[^>]*\bid=\"([^\"]+)\"", self.html)

    def element_ids(self) -> set[str]:
        return set(re.findall(r"\bid=\"([^\"]+)\"", self.html))

    def nav_links(self) -> list[tuple[str, str]]:
        """(target id, label) of each navigation link."""
        nav = re.search(r"<nav\b.*?</nav>", self.html, re.S)
        if not nav:
            return []
        return [
            (target, _text(label))
            for target, label in re.findall(r'<a\b[^>]*href="#([^"]+)"[^>]*>(.*?)</a>', nav[0])
        ]

    def css_var(self, name: str) -> str | None:
        found = re.search(rf"^\s*--{re.escape(name)}\s*:\s*([^;]+);", self.css, re.M)
        return found.group(1).strip() if found else None

    @property
    def mode(self) -> Mode:
        if re.search(r'<html\b[^>]*data-theme="dark"', self.html) or re.search(
            r"color-scheme:\s*dark", self.css
        ):
            return "dark"
        return "light"


def _text(fragment: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", "", fragment)).split())


# ------------------------------------------------------------------------------ colours

_PALETTE_VARS = {
    "bg": "background",
    "surface": "surface",
    "surface-alt": "surface_alt",
    "text": "text",
    "muted": "muted",
    "border": "border",
    "accent": "accent",
    "accent-ink": "accent_ink",
    "on-accent": "on_accent",
}
_HEX_RE = re.compile(r"(#|%23)([0-9a-fA-F]{6})(?![0-9a-fA-F])")
_SHADES = {
    "dark": "dark",
    "deep": "dark",
    "navy": "dark",
    "light": "light",
    "pale": "light",
    "soft": "light",
    "pastel": "light",
    "baby": "light",
}


def current_palette(page: SitePage) -> Palette | None:
    values = {field: page.css_var(var) for var, field in _PALETTE_VARS.items()}
    if any(
        value is None or not re.fullmatch(r"#[0-9a-fA-F]{6}", value) for value in values.values()
    ):
        return None
    return Palette(mode=page.mode, **{k: v.lower() for k, v in values.items() if v})


def _with_accent_ink(palette: Palette) -> Palette:
    """Links readable on the (possibly new) background: the same search build_palette does."""
    target = "#ffffff" if palette.mode == "dark" else "#000000"
    ink = palette.accent
    for step in range(1, 11):
        if contrast(ink, palette.background) >= 4.5:
            break
        ink = mix(palette.accent, target, step / 10)
    return palette.model_copy(update={"accent_ink": ink})


def background_palette(colour: str, shade: str | None, page: SitePage) -> Palette:
    """A palette whose page background is ``colour`` (tinted), with readable text on it."""
    if colour == "#ffffff":
        background, mode = "#ffffff", "light"
    elif colour == "#000000":
        background, mode = "#0b0b0c", "dark"
    else:
        mode = shade or page.mode
        background = (
            mix(colour, "#ffffff", 0.82) if mode == "light" else mix(colour, "#000000", 0.72)
        )
    old = current_palette(page)
    accent = old.accent if old else COLOR_WORDS["blue"]
    if accent.lower() == colour.lower():  # a blue accent on a blue page would vanish
        accent = mix(colour, "#000000" if mode == "light" else "#ffffff", 0.35)
    base = build_palette(mode, accent)  # type: ignore[arg-type]
    towards = "#000000" if mode == "light" else "#ffffff"
    return _with_accent_ink(
        base.model_copy(
            update={"background": background, "surface_alt": mix(background, towards, 0.05)}
        )
    )


def apply_palette(page: SitePage, palette: Palette) -> None:
    """Rewrite the stylesheet's colour variables and every palette colour in the page."""
    old = current_palette(page)
    accent_soft = mix(palette.accent, palette.background, 0.55)
    if old is None:
        # Not a stylesheet with our variables: override the essentials at the end.
        page.css = (
            page.css.rstrip()
            + "\n\n/* Colours changed from the chat */\n"
            + f":root {{\n  color-scheme: {palette.mode};\n}}\n\n"
            + f"body {{\n  background: {palette.background};\n  color: {palette.text};\n}}\n"
        )
    else:
        css = page.css
        for var, field in _PALETTE_VARS.items():
            css = _set_css_var(css, var, getattr(palette, field))
        css = _set_css_var(css, "accent-soft", accent_soft)
        css = re.sub(r"(color-scheme:\s*)(light|dark)", rf"\g<1>{palette.mode}", css, count=1)
        glow = re.search(r"^(\s*--hero-glow\s*:)([^;]+);", css, re.M)
        if glow and "gradient" in glow.group(2):
            new_glow = _replace_hexes_in_order(glow.group(2), [accent_soft, palette.surface_alt])
            css = css[: glow.start(2)] + new_glow + css[glow.end(2) :]
        page.css = css
        mapping = {
            getattr(old, field): getattr(palette, field)
            for field in ("accent", "surface_alt", "text", "background")
        }
        page.html = _recolour(page.html, mapping)
    page.html = re.sub(
        r'(<html\b[^>]*data-theme=")(light|dark)(")', rf"\g<1>{palette.mode}\3", page.html
    )
    page.html = re.sub(
        r'(<meta name="theme-color" content=")[^"]*(")', rf"\g<1>{palette.background}\2", page.html
    )
    page.html = re.sub(
        r"(<link rel=\"icon\" href=\")data:image/svg\+xml,[^\"]*(\")",
        lambda m: m.group(1) + favicon_data_uri(palette) + m.group(2),
        page.html,
    )


def _set_css_var(css: str, name: str, value: str) -> str:
    return re.sub(
        rf"^(\s*--{re.escape(name)}\s*:\s*)[^;]+;", rf"\g<1>{value};", css, count=1, flags=re.M
    )


def _replace_hexes_in_order(text: str, values: list[str]) -> str:
    queue = list(values)

    def next_value(match: re.Match[str]) -> str:
        return queue.pop(0) if queue else match.group(0)

    return re.sub(r"#[0-9a-fA-F]{6}", next_value, text)


def _recolour(html: str, mapping: dict[str, str]) -> str:
    """Replace old palette colours (``#abcdef`` or URL-encoded ``%23abcdef``) in one pass."""
    lowered = {old.lower().lstrip("#"): new.lstrip("#") for old, new in mapping.items()}

    def swap(match: re.Match[str]) -> str:
        new = lowered.get(match.group(2).lower())
        return match.group(1) + new if new else match.group(0)

    return _HEX_RE.sub(swap, html)


def _colour_in(clause: str) -> tuple[str, str, str | None] | None:
    """(word, #hex, shade) of the first colour named in a clause (lowercase)."""
    found: list[tuple[int, int, str]] = []
    for word in (*COLOR_WORDS, "white", "black"):
        position = phrase_position(clause, word)
        if position is not None:
            found.append((position, -len(word), word))
    if not found:
        return None
    position, _, word = min(found)
    value = {"white": "#ffffff", "black": "#000000"}.get(word) or COLOR_WORDS[word]
    before = clause[:position].split()[-1:] or [""]
    shade = _SHADES.get(before[0]) or ("dark" if word == "navy" else None)
    return word, value, shade


# ------------------------------------------------------------------------------ requests


@dataclass(frozen=True)
class ChangeRequest:
    """One understood request: ``apply`` changes the page and returns a line for the answer."""

    describe: str
    apply: Callable[[SitePage], str]


def _theme(mode: Mode) -> ChangeRequest:
    def apply(page: SitePage) -> str:
        old = current_palette(page)
        if page.mode == mode and old is not None:
            raise EditRefused(f"The site already uses a {mode} theme.")
        accent = old.accent if old else COLOR_WORDS["blue"]
        palette = build_palette(mode, accent)
        apply_palette(page, palette)
        return (
            f"**Theme:** switched to a {mode} theme (background `{palette.background}`, "
            f"accent `{accent}` kept) in `{page.styles_path}`"
        )

    return ChangeRequest(f"{mode} theme", apply)


def _background(word: str, colour: str, shade: str | None) -> ChangeRequest:
    def apply(page: SitePage) -> str:
        palette = background_palette(colour, shade, page)
        apply_palette(page, palette)
        label = f"{shade} {word}" if shade and shade not in word else word
        return (
            f"**Background:** now {label} (`{palette.background}`), with the text and links "
            f"adjusted to stay readable, in `{page.styles_path}`"
        )

    return ChangeRequest(f"{word} background", apply)


def _accent(word: str, colour: str) -> ChangeRequest:
    def apply(page: SitePage) -> str:
        old = current_palette(page)
        if old is None:
            raise EditRefused(
                f"I could not find the site's colour variables in `{page.styles_path}`, so the "
                f"{word} accent was not applied."
            )
        if old.accent == colour:
            raise EditRefused(f"The accent colour is already {word}.")
        apply_palette(page, build_palette(page.mode, colour))
        return (
            f"**Accent colour:** now {word} (`{colour}`) for buttons, links and the "
            f"illustration, in `{page.styles_path}` and `{INDEX_PATH}`"
        )

    return ChangeRequest(f"{word} accent", apply)


def _rename(new_name: str) -> ChangeRequest:
    def apply(page: SitePage) -> str:
        old = page.name
        if not old:
            raise EditRefused("I could not find the site's name (its `<h1>`) to change it.")
        if old == new_name:
            raise EditRefused(f"The site is already called {md(new_name)}.")
        # Whole words only: renaming "Ada" leaves "Adam" alone.
        html = re.sub(
            rf"(?<!\w){re.escape(escape(old))}(?!\w)",
            lambda _: escape(new_name),
            page.html,
        )
        html = html.replace(
            f"hello@{slugify(old, 30)}.example", f"hello@{slugify(new_name, 30)}.example"
        )
        html = re.sub(
            r'(<span class="brand-mark"[^>]*>)[^<]*(</span>)',
            lambda m: m.group(1) + escape(_initial(new_name)) + m.group(2),
            html,
        )
        title = re.search(r"<title>(.*?)</title>", html, re.S)
        if title is not None and escape(new_name) not in title.group(1):
            # A title that did not carry the old name: the new name becomes the title.
            html = html[: title.start(1)] + escape(new_name) + html[title.end(1) :]
        page.html = html
        return (
            f"**Name:** {md(old)} is now **{md(new_name)}** in the title, the heading, the "
            f"navigation bar and the footer of `{INDEX_PATH}`"
        )

    return ChangeRequest("new name", apply)


def _hero_text(css_class: str, label: str, value: str) -> ChangeRequest:
    def apply(page: SitePage) -> str:
        found = re.search(rf'<p class="{css_class}">(.*?)</p>', page.html, re.S)
        if not found:
            raise EditRefused(f"I could not find the {label} on the page.")
        old, new = found.group(1), escape(value)
        html = page.html[: found.start(1)] + new + page.html[found.end(1) :]
        if old.strip():
            # The same words also serve as the page description and the footer line.
            html = html.replace(f'content="{old}"', f'content="{new}"')
            html = html.replace(f"<p>{old}</p>", f"<p>{new}</p>")
        page.html = html
        return f"**{label.capitalize()}:** now \u201c{md(value)}\u201d in `{INDEX_PATH}`"

    return ChangeRequest(label, apply)


def _add_section(topic: str) -> ChangeRequest:
    def apply(page: SitePage) -> str:
        copy = section_for_topic(topic, page.name)
        if copy.id in page.section_ids():
            raise EditRefused(f"The site already has a section called {md(copy.label)}.")
        if copy.id in page.element_ids() or copy.id in ("home", "main"):
            # A form field or landmark has this id already; ids must stay unique.
            copy = copy.model_copy(update={"id": f"{copy.id}-info"})
        page.html = insert_section(page.html, copy)
        return (
            f"**New section:** {md(copy.heading)} (`#{copy.id}`), with a link in the navigation "
            f"bar, before the contact form in `{INDEX_PATH}`"
            + (
                "; its text is a placeholder for you to replace"
                if copy.id not in _CATALOGUE_IDS
                else ""
            )
        )

    return ChangeRequest(f"{topic} section", apply)


def _remove_section(topic: str) -> ChangeRequest:
    def apply(page: SitePage) -> str:
        target = find_section(page, topic)
        if target is None:
            names = ", ".join(md(label) for _, label in page.nav_links()) or "none"
            raise EditRefused(
                f"I could not find a section matching \u201c{md(topic)}\u201d "
                f"(the sections are: {names})."
            )
        if target in ("home", CONTACT_SECTION_ID):
            raise EditRefused(
                "I left the "
                + ("top of the page" if target == "home" else "contact section")
                + " in place: visitors and the site's tests rely on it."
            )
        label = dict(page.nav_links()).get(target, target)
        page.html = remove_section(page.html, target)
        return f"**Removed section:** {md(label)} (`#{target}`) and its navigation link"

    return ChangeRequest(f"removing {topic}", apply)


def _initial(name: str) -> str:
    return next((char.upper() for char in name if char.isalnum()), "•")


# ------------------------------------------------------------------------------ sections

_HOURS = SectionCopy(
    id="hours",
    label="Hours",
    heading="Opening hours",
    intro="When you can find us. Holidays are announced here a week ahead.",
    layout="list",
    items=(
        Item(title="Monday to Friday", meta="8:00 – 18:00"),
        Item(title="Saturday", meta="9:00 – 16:00"),
        Item(title="Sunday", text="and public holidays", meta="Closed"),
    ),
)
_PRICES = SectionCopy(
    id="prices",
    label="Prices",
    heading="Prices",
    intro="Clear prices, no surprises. Ask us about anything not listed.",
    layout="list",
    items=(
        Item(title="Standard", text="what most people choose", meta="from €15"),
        Item(title="Premium", text="more time and extra care", meta="from €30"),
        Item(title="Made to measure", text="tell us what you need", meta="on request"),
    ),
)
_TOPICS: tuple[tuple[tuple[str, ...], SectionCopy], ...] = (
    (("opening hours", "opening times", "hours"), _HOURS),
    (("prices", "price", "pricing", "price list", "rates", "costs", "tariffs"), _PRICES),
    *EXTRA_SECTIONS,
)
_CATALOGUE_IDS = frozenset(copy.id for _, copy in _TOPICS)


def section_for_topic(topic: str, site_name: str) -> SectionCopy:
    """Copy for a section about ``topic``: from the catalogue, else a short placeholder."""
    lower = topic.lower()
    name = site_name or "us"
    for words, copy in _TOPICS:
        if any(has_phrase(lower, word) for word in words):
            return _fill(copy, name)
    title = _sentence_case(topic)[:40].strip()
    return SectionCopy(
        id=slugify(topic, max_len=24),
        label=title,
        heading=title,
        intro=f"More about {topic.strip()} at {name}.",
        layout="cards",
        items=(
            Item(
                title="Ask us",
                text=f"Tell us what you would like to know about {topic.strip()}; we reply "
                "within a day.",
            ),
        ),
    )


def _fill(copy: SectionCopy, name: str) -> SectionCopy:
    def fill(value: str) -> str:
        return value.replace("{name}", name).replace("{place}", "")

    return copy.model_copy(
        update={
            "intro": fill(copy.intro),
            "heading": fill(copy.heading),
            "items": tuple(
                Item(title=fill(i.title), text=fill(i.text), meta=fill(i.meta)) for i in copy.items
            ),
        }
    )


def _sentence_case(text: str) -> str:
    text = " ".join(text.split())
    return text[:1].upper() + text[1:]


def insert_section(html: str, copy: SectionCopy) -> str:
    """The section before the contact section (else the end of main) and its nav link."""
    block = "\n".join(render_section(copy, alternate=False)) + "\n"
    anchor = re.search(rf'^[ \t]*<section\b[^>]*\bid="{CONTACT_SECTION_ID}"', html, re.M)
    if anchor is None:
        anchor = re.search(r"^[ \t]*</main>", html, re.M) or re.search(
            r"^[ \t]*</body>", html, re.M
        )
    at = anchor.start() if anchor else len(html)
    html = html[:at] + block + html[at:]
    nav = re.search(r"<nav\b.*?</nav>", html, re.S)
    if nav:
        link = f'<li><a href="#{copy.id}">{escape(copy.label)}</a></li>'
        inner = nav.group(0)
        contact = re.search(rf'^([ \t]*)<li><a href="#{CONTACT_SECTION_ID}">', inner, re.M)
        if contact:
            inner = (
                inner[: contact.start()] + contact.group(1) + link + "\n" + inner[contact.start() :]
            )
        else:
            inner = re.sub(r"([ \t]*)</ul>", rf"\g<1>  {link}\n\g<1></ul>", inner, count=1)
        html = html[: nav.start()] + inner + html[nav.end() :]
    return realternate(html)


def find_section(page: SitePage, topic: str) -> str | None:
    """The id of the section a person means by ``topic`` (its id, nav label or heading)."""
    lower = " ".join(topic.lower().split())
    labels = dict(page.nav_links())
    candidates = ["home", *page.section_ids()]
    for section_id in candidates:
        heading = re.search(
            rf'<section\b[^>]*\bid="{re.escape(section_id)}".*?<h[12]\b[^>]*>(.*?)</h[12]>',
            page.html,
            re.S,
        )
        names = {section_id.replace("-", " "), labels.get(section_id, "").lower()}
        if heading:
            names.add(_text(heading.group(1)).lower())
        if section_id == "home":
            names |= {"hero", "top", "header", "banner"}
        for words, copy in _TOPICS:
            if copy.id == section_id:
                names |= set(words)
        names.discard("")
        if lower in names or any(
            has_phrase(lower, name) or has_phrase(name, lower) for name in names
        ):
            return section_id
    return None


def remove_section(html: str, section_id: str) -> str:
    removed_label = dict(SitePage(html, "").nav_links()).get(section_id, "")
    start = re.search(rf'^[ \t]*<section\b[^>]*\bid="{re.escape(section_id)}"', html, re.M)
    if start is None:
        return html
    depth, end = 0, start.end()
    for tag in re.finditer(r"<(/?)section\b[^>]*>", html[start.start() :]):
        depth += -1 if tag.group(1) else 1
        if depth == 0:
            end = start.start() + tag.end()
            break
    if end < len(html) and html[end] == "\n":
        end += 1
    html = html[: start.start()] + html[end:]
    html = re.sub(
        rf'^[ \t]*<li><a href="#{re.escape(section_id)}">.*?</a></li>\n', "", html, flags=re.M
    )
    remaining = [
        (target, label) for target, label in SitePage(html, "").nav_links() if target != section_id
    ]
    if remaining:
        # Other links to it (the hero's second button) go to the first section left.
        new_id, new_label = remaining[0]

        def retarget(link: re.Match[str]) -> str:
            text = escape(new_label) if _text(link.group(3)) == removed_label else link.group(3)
            return f"{link.group(1)}#{new_id}{link.group(2)}{text}{link.group(4)}"

        html = re.sub(
            rf'(<a\b[^>]*href=")#{re.escape(section_id)}("[^>]*>)(.*?)(</a>)', retarget, html
        )
    return realternate(html)


def realternate(html: str) -> str:
    """Content sections alternate backgrounds, first one shaded (as the site writer does)."""
    count = 0

    def fix(match: re.Match[str]) -> str:
        nonlocal count
        classes = match.group(2).split()
        if "section" not in classes:
            return match.group(0)
        classes = [c for c in classes if c != "section-alt"]
        if count % 2 == 0:
            classes.append("section-alt")
        count += 1
        return f'{match.group(1)}class="{" ".join(classes)}"'

    return re.sub(r'(<section\b[^>]*?)class="([^"]*)"', fix, html)


# ------------------------------------------------------------------------------ reading words

_VALUE_END_RE = re.compile(
    r"[.!?;\n]\s|[.!?;\n]?$|,?\s+(?:and|then|also)\s+(?=(?:make|use|add|remove|delete|drop|change|"
    r"switch|set|call|rename|put|give|turn)\b)",
    re.I,
)
_QUOTE_PAIRS = {'"': '"', "\u201c": "\u201d", "'": "'", "\u2018": "\u2019", "`": "`", "«": "»"}

_RENAME_RES = (
    re.compile(
        r"\b(?:call|name|rename)\s+(?:(?:the|our|my|this)\s+)?(?:web\s*site|site|page|business|shop|"
        r"brand|company|project)\s+(?:to\s+|as\s+)?(?P<v>.+)",
        re.I | re.S,
    ),
    re.compile(
        r"\b(?:change|set|update|rename|make)\s+(?:the\s+|our\s+|my\s+)?(?:web\s*site'?s\s+|site'?s\s+|"
        r"business\s+|brand\s+|company\s+|page\s+)?(?:name|title)\s+(?:to|into|as|be)\s*:?\s+(?P<v>.+)",
        re.I | re.S,
    ),
    re.compile(
        r"\b(?:site|website|business|shop)\s+(?:should\s+be\s+|is\s+now\s+)?(?:called|named)\s+(?P<v>.+)",
        re.I | re.S,
    ),
)
_HEADLINE_RE = re.compile(
    r"\b(?:change|set|update|make|replace)\s+(?:the\s+)?(?:main\s+)?(?:headline|tagline|slogan|"
    r"subtitle|sub-?heading|hero\s+(?:headline|title|heading|line))\s+(?:to|into|with|say|read)"
    r"\s*:?\s+(?P<v>.+)",
    re.I | re.S,
)
_LEAD_RE = re.compile(
    r"\b(?:change|set|update|replace)\s+(?:the\s+)?(?:hero\s+text|hero\s+paragraph|intro(?:duction)?"
    r"(?:\s+(?:text|paragraph))?|lead(?:\s+(?:text|paragraph))?|welcome\s+text)\s+(?:to|into|with|"
    r"say|read)\s*:?\s+(?P<v>.+)",
    re.I | re.S,
)
_ADD_RES = (
    re.compile(
        r"\badd\s+(?:(?:a|an|the|one|some)\s+)?(?:new\s+)?(?:section|part|block|area)\s+(?:about|for|on|"
        r"with|listing|showing|covering|describing|called|named)\s+(?:(?:our|the|my|your)\s+)?(?P<t>[^.,;!?\n]+)",
        re.I,
    ),
    re.compile(
        r"\badd\s+(?:(?:a|an|the|some)\s+)?(?:new\s+)?(?:our\s+|my\s+)?(?P<t>[\w'&-]+(?:\s+[\w'&-]+){0,3}?)"
        r"\s+(?:section|part|block)\b",
        re.I,
    ),
    re.compile(
        r"\b(?:add|show|list|include)\s+(?:our\s+|the\s+|my\s+|a\s+)?(?P<t>opening\s+hours|opening\s+"
        r"times|hours|prices|pricing|price\s+list|faqs?|team|testimonials|reviews)\b",
        re.I,
    ),
)
_REMOVE_RES = (
    re.compile(
        r"\b(?:remove|delete|drop|hide|take\s+out|get\s+rid\s+of)\s+(?:the\s+|our\s+|my\s+)?(?:section\s+"
        r"(?:about|on|for|called|named)\s+)(?P<t>[^.,;!?\n]+)",
        re.I,
    ),
    re.compile(
        r"\b(?:remove|delete|drop|hide|take\s+out|get\s+rid\s+of)\s+(?:the\s+|our\s+|my\s+)?"
        r"(?P<t>[\w'&-]+(?:\s+[\w'&-]+){0,3}?)\s+(?:section|part|block)s?\b",
        re.I,
    ),
    re.compile(
        r"\b(?:remove|delete|drop|take\s+out|get\s+rid\s+of)\s+(?:the\s+|our\s+|my\s+)?"
        r"(?P<t>[\w'&-]+(?:\s+[\w'&-]+){0,2})",
        re.I,
    ),
)
_THEME_RES = (
    re.compile(
        r"\b(?P<m>dark|light)(?:er)?\s+(?:mode|theme|design|look|version|palette|scheme|colou?r\s+"
        r"scheme|style)\b",
        re.I,
    ),
    re.compile(
        r"\b(?:make|turn|switch|change)\s+(?:it|the\s+(?:web\s*site|site|page|design))\s+(?:to\s+|into\s+)?"
        r"(?:a\s+)?(?P<m>dark|light)(?:er)?\b(?!\s+(?:[a-z]+\s+)?(?:background|colou?r))",
        re.I,
    ),
    re.compile(r"\bswitch\s+to\s+(?P<m>dark|light)\b", re.I),
    # "a dark background" names no colour: the theme. ("dark blue background" is a colour.)
    re.compile(r"\b(?P<m>dark|light)(?:er)?\s+backgrounds?\b", re.I),
)
_NEGATION_RE = re.compile(
    r"\b(?:remove|no|not|without|disable|undo|drop|get\s+rid\s+of|turn\s+off|switch\s+off|"
    r"instead\s+of)\s+(?:the\s+|this\s+|a\s+)?$"
)
_ACCENT_WORDS = (
    "accent",
    "colour",
    "color",
    "colours",
    "colors",
    "button",
    "buttons",
    "link",
    "links",
    "brand",
    "highlight",
    "highlights",
    "main",
    "primary",
    "make it",
    "make the site",
    "make the website",
    "make the page",
)


def _is_about_colours(topic: str) -> bool:
    """ "remove the dark theme", "drop the blue": colour words, not a section."""
    lower = topic.lower()
    return _colour_in(lower) is not None or any(
        has_phrase(lower, word) for word in ("theme", "mode", "dark", "light", "background")
    )


def _value(raw: str) -> str:
    raw = raw.strip()
    if raw and raw[0] in _QUOTE_PAIRS:
        end = raw.find(_QUOTE_PAIRS[raw[0]], 1)
        if end > 1:
            return raw[1:end].strip()
    cut = _VALUE_END_RE.search(raw)
    value = raw[: cut.start()] if cut else raw
    return value.strip().strip("\"'\u201c\u201d\u2018\u2019`*").strip()


def parse_requests(message: str) -> list[ChangeRequest]:
    """Every change a message asks for, in a fixed order; empty when none is understood."""
    rest = message.replace("\r\n", "\n").strip()
    requests: list[ChangeRequest] = []

    def take(match: re.Match[str], group: str) -> str:
        """The request's value; its words are taken out of what later patterns see."""
        nonlocal rest
        raw = match.group(group)
        value = _value(raw)
        offset = raw.find(value) if value else -1
        end = match.start(group) + (offset + len(value) if offset >= 0 else len(raw))
        rest = rest[: match.start()] + " . " + rest[end:]
        return value

    for pattern in _RENAME_RES:
        found = pattern.search(rest)
        if found:
            name = take(found, "v")[:NAME_MAX].strip()
            if name:
                requests.append(_rename(name))
            break
    for pattern, css_class, label in (
        (_HEADLINE_RE, "tagline", "headline"),
        (_LEAD_RE, "lead", "intro text"),
    ):
        found = pattern.search(rest)
        if found:
            value = take(found, "v")[:TEXT_MAX]
            if value:
                requests.append(_hero_text(css_class, label, value))
    for patterns, make in ((_ADD_RES, _add_section), (_REMOVE_RES, _remove_section)):
        for pattern in patterns:
            found = pattern.search(rest)
            if found and not _is_about_colours(_value(found.group("t"))):
                topic = take(found, "t")
                if topic:
                    requests.append(make(topic))
                break
    lower = rest.lower()
    theme = next((m for p in _THEME_RES if (m := p.search(lower))), None)
    if theme:
        dark = theme.group("m") == "dark"
        if _NEGATION_RE.search(lower[: theme.start()]):  # "remove the dark mode": the other one
            dark = not dark
        mode: Mode = "dark" if dark else "light"
        requests.append(_theme(mode))
        lower = lower[: theme.start()] + " . " + lower[theme.end() :]
    for clause in re.split(r"[.;!?\n]|,|\band\b|\bthen\b", lower):
        colour = _colour_in(clause)
        if colour is None:
            continue
        word, value, shade = colour
        if has_phrase(clause, "background") or has_phrase(clause, "backgrounds"):
            requests.append(_background(word, value, shade))
        elif word not in ("white", "black") and any(has_phrase(clause, w) for w in _ACCENT_WORDS):
            requests.append(_accent(word, value))
    return requests


# ------------------------------------------------------------------------------ the answer

CAPABILITIES = (
    "- colours: \u201cmake the background blue\u201d, \u201cuse green as the main colour\u201d, "
    "\u201cdark mode\u201d, \u201ca light theme\u201d\n"
    "- the name: \u201ccall the site Crumb & Co\u201d\n"
    "- the hero: \u201cchange the headline to Fresh bread every morning\u201d, "
    "\u201cchange the intro text to ...\u201d\n"
    "- sections: \u201cadd a section about our opening hours\u201d (prices, team, FAQ, reviews "
    "or any topic), \u201cremove the FAQ section\u201d"
)


def chat_deliverable(message: str, inputs: dict[str, str | None]) -> Deliverable:
    """The files a chat message changes (only those) and the answer the person reads."""
    html = inputs.get(INDEX_PATH)
    requests = parse_requests(message)
    gist = md(" ".join(message.split())[:200])
    if not requests:
        return Deliverable(
            files={},
            answer=(
                f"I read your message (\u201c{gist}\u201d) but it is not a change I can make to "
                "the site as the offline model, so nothing was changed. From the chat I can "
                f"change:\n\n{CAPABILITIES}"
            ),
        )
    if html is None:
        return Deliverable(
            files={},
            answer=(
                f"There is no site in `code/` yet (I could not read `{INDEX_PATH}`), so nothing "
                "was changed. Ask again once the site has been generated."
            ),
        )
    styles_path = stylesheet_of(html, inputs)
    css = inputs.get(styles_path) or ""
    page = SitePage(html=html, css=css, styles_path=styles_path)
    done: list[str] = []
    refused: list[str] = []
    for request in requests:
        try:
            done.append(request.apply(page))
        except EditRefused as reason:
            refused.append(str(reason))
    files: dict[str, str] = {}
    if page.html != html:
        files[INDEX_PATH] = page.html.rstrip("\n") + "\n"
    if page.css != css:
        files[styles_path] = page.css.rstrip("\n") + "\n"
    return Deliverable(files=files, answer=_answer(done, refused))


def stylesheet_of(html: str, inputs: dict[str, str | None]) -> str:
    """The stylesheet the page links among those that were read (a static site's by default).

    Why the link decides first: a dynamic site that once was static may still hold an old
    ``code/styles.css`` that its page no longer uses.
    """
    present = [path for path in STYLESHEETS if inputs.get(path) is not None]
    linked = set(re.findall(r"<link\b[^>]*\bhref=[\"']([^\"']+)[\"']", html, re.I))
    for path in present:
        if str(PurePosixPath(path).relative_to(SITE_DIR)) in linked:
            return path
    return present[0] if present else STYLES_PATH


def _answer(done: list[str], refused: list[str]) -> str:
    lines: list[str] = []
    if done:
        lines += ["Done. I changed the site:", "", *(f"- {line}" for line in done)]
    else:
        lines += ["Nothing was changed."]
    if refused:
        lines += ["", *(f"- {reason}" for reason in refused)]
    if done:
        lines += ["", "The changes are in `code/`; they go live with the next deploy."]
    return "\n".join(lines)
