"""What the end-to-end tests may rely on, read from the site's actual ``index.html``.

The tests are written from the page that exists, not from what the plan intended: if the code
step chose a different title or dropped a section, the tests follow the page, the way a
developer reads the markup before writing selectors.
"""

from __future__ import annotations

from html.parser import HTMLParser

from pydantic import BaseModel, ConfigDict

_VOID_TAGS = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    ]
)


class FormField(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    tag: str
    type: str
    label: str


class SiteFacts(BaseModel):
    model_config = ConfigDict(frozen=True)

    title: str
    h1: str
    nav_targets: tuple[str, ...]
    section_ids: tuple[str, ...]
    form_id: str
    form_fields: tuple[FormField, ...]
    image_count: int
    has_nav_toggle: bool
    # Same-site API routes the page fetches (``data-api`` of a dynamic site's sections).
    api_routes: tuple[str, ...] = ()


class _FactsParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title_parts: list[str] = []
        self.h1_parts: list[str] = []
        self.nav_targets: list[str] = []
        self.section_ids: list[str] = []
        self.ids: set[str] = set()
        self.form_id = ""
        self.fields: list[tuple[str, str, str]] = []
        self.labels: dict[str, list[str]] = {}
        self.image_count = 0
        self.has_nav_toggle = False
        self.api_routes: list[str] = []
        self._stack: list[str] = []
        self._label_for: str | None = None
        self._capturing: str | None = None  # "title" or "h1": only the first of each counts
        self._captured: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        element_id = attributes.get("id", "")
        if element_id:
            self.ids.add(element_id)
        api = attributes.get("data-api", "")
        if api.startswith("/") and not api.startswith("//") and api not in self.api_routes:
            self.api_routes.append(api)
        if tag == "section" and element_id:
            self.section_ids.append(element_id)
        elif tag == "a" and "nav" in self._stack:
            href = attributes.get("href", "")
            if href.startswith("#") and len(href) > 1 and href[1:] not in self.nav_targets:
                self.nav_targets.append(href[1:])
        elif tag == "form" and not self.form_id:
            self.form_id = element_id
        elif tag in ("input", "textarea", "select") and "form" in self._stack:
            kind = attributes.get("type", "text") if tag == "input" else tag
            if element_id and kind not in ("hidden", "submit", "button", "reset"):
                self.fields.append((element_id, tag, kind))
        elif tag == "label":
            self._label_for = attributes.get("for") or None
        elif tag == "img":
            self.image_count += 1
        elif tag == "button" and "nav-toggle" in attributes.get("class", "").split():
            self.has_nav_toggle = True
        if tag in ("title", "h1") and "svg" not in self._stack and tag not in self._captured:
            self._capturing = tag
        if tag not in _VOID_TAGS:
            self._stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self._label_for = None
        if tag == self._capturing:
            self._captured.add(tag)
            self._capturing = None
        if tag in self._stack:
            while self._stack and self._stack.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        if self._capturing == "title":
            self.title_parts.append(data)
        elif self._capturing == "h1":
            self.h1_parts.append(data)
        if self._label_for:
            self.labels.setdefault(self._label_for, []).append(data)


def read_site_facts(index_html: str) -> SiteFacts:
    parser = _FactsParser()
    parser.feed(index_html)
    parser.close()
    return SiteFacts(
        title=" ".join("".join(parser.title_parts).split()),
        h1=" ".join("".join(parser.h1_parts).split()),
        nav_targets=tuple(parser.nav_targets),
        section_ids=tuple(parser.section_ids),
        form_id=parser.form_id,
        form_fields=tuple(
            FormField(
                id=field_id,
                tag=tag,
                type=kind,
                label=" ".join("".join(parser.labels.get(field_id, [])).split()),
            )
            for field_id, tag, kind in parser.fields
        ),
        image_count=parser.image_count,
        has_nav_toggle=parser.has_nav_toggle,
        api_routes=tuple(parser.api_routes),
    )
