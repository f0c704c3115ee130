"""A :class:`SiteDesign` -> a complete static site: ``index.html``, ``styles.css``, ``script.js``.

The output is what a careful developer would hand over for an S3 + CloudFront site: semantic
HTML5, a responsive stylesheet driven by CSS variables, a few lines of script, and nothing
fetched from the network (the site must render the same offline and behind any CSP).

Every piece of text that came from the user is escaped here, once, with :func:`html.escape`.
"""

from __future__ import annotations

from html import escape

from tmux_builder.naming import slugify
from tmux_builder.offline_model.motifs import favicon_data_uri, motif_svg
from tmux_builder.offline_model.palette import mix
from tmux_builder.offline_model.site_design import SiteDesign
from tmux_builder.offline_model.site_kinds import SectionCopy

SITE_DIR = "code"
INDEX_PATH = f"{SITE_DIR}/index.html"
STYLES_PATH = f"{SITE_DIR}/styles.css"
SCRIPT_PATH = f"{SITE_DIR}/script.js"

CONTACT_SECTION_ID = "contact"
CONTACT_FORM_ID = "contact-form"


def write_site(design: SiteDesign) -> dict[str, str]:
    """Relative path -> file content for the whole site."""
    return {
        INDEX_PATH: render_index(design),
        STYLES_PATH: render_styles(design),
        SCRIPT_PATH: render_script(),
    }


def contact_email(design: SiteDesign) -> str:
    """A reserved ``.example`` address: plausible on the page, never someone's real inbox."""
    return f"hello@{slugify(design.name, max_len=30)}.example"


def render_index(
    design: SiteDesign, *, asset_prefix: str = "", api_section: str | None = None
) -> str:
    """The page; ``asset_prefix`` is where its CSS and script live (``assets/`` for a dynamic
    site's server), ``api_section`` the id of a section the page fills from ``/api/<id>``."""
    e = escape
    lines = [
        "<!doctype html>",
        f'<html lang="en" data-theme="{design.palette.mode}" data-tone="{design.tone}">',
        "<head>",
        '  <meta charset="utf-8">',
        '  <meta name="viewport" content="width=device-width, initial-scale=1">',
        f"  <title>{e(design.title)}</title>",
        f'  <meta name="description" content="{e(design.tagline)}">',
        f'  <meta name="theme-color" content="{design.palette.background}">',
        f'  <link rel="icon" href="{favicon_data_uri(design.palette)}">',
        f'  <link rel="stylesheet" href="{asset_prefix}styles.css">',
        "</head>",
        "<body>",
        '  <a class="skip-link" href="#main">Skip to content</a>',
        *_header(design),
        '  <main id="main">',
        *_hero(design),
    ]
    for index, section in enumerate(design.sections):
        api = f"/api/{section.id}" if section.id == api_section else None
        lines.extend(_section(section, alternate=index % 2 == 0, api=api))
    lines.extend(_contact(design, alternate=len(design.sections) % 2 == 0))
    lines.extend(["  </main>", *_footer(design)])
    script = f'  <script src="{asset_prefix}script.js" defer></script>'
    lines.extend([script, "</body>", "</html>", ""])
    return "\n".join(lines)


def _nav_items(design: SiteDesign) -> list[tuple[str, str]]:
    items = [(section.id, section.label) for section in design.sections]
    items.append((CONTACT_SECTION_ID, "Contact"))
    return items


def _header(design: SiteDesign) -> list[str]:
    e = escape
    lines = [
        '  <header class="site-header">',
        '    <div class="container header-inner">',
        f'      <a class="brand" href="#home"><span class="brand-mark" aria-hidden="true">'
        f"{e(_initial(design.name))}</span><span>{e(design.name)}</span></a>",
        '      <button class="nav-toggle" type="button" aria-expanded="false" '
        'aria-controls="site-nav">Menu</button>',
        '      <nav id="site-nav" class="site-nav" aria-label="Main">',
        "        <ul>",
    ]
    for anchor, label in _nav_items(design):
        lines.append(f'          <li><a href="#{anchor}">{e(label)}</a></li>')
    lines.extend(["        </ul>", "      </nav>", "    </div>", "  </header>"])
    return lines


def _hero(design: SiteDesign) -> list[str]:
    e = escape
    eyebrow = design.kind_label.capitalize()
    if design.location:
        eyebrow = f"{eyebrow} · {design.location}"
    first = design.sections[0]
    art = motif_svg(design.motif, design.palette, f"Illustration for {design.name}")
    return [
        '    <section id="home" class="hero" aria-labelledby="site-name">',
        '      <div class="container hero-inner">',
        '        <div class="hero-copy">',
        f'          <p class="eyebrow">{e(eyebrow)}</p>',
        f'          <h1 id="site-name">{e(design.name)}</h1>',
        f'          <p class="tagline">{e(design.tagline)}</p>',
        f'          <p class="lead">{e(design.hero_text)}</p>',
        '          <div class="hero-actions">',
        f'            <a class="button" href="#{CONTACT_SECTION_ID}">{e(design.cta_label)}</a>',
        f'            <a class="button button-ghost" href="#{first.id}">{e(first.label)}</a>',
        "          </div>",
        "        </div>",
        '        <div class="hero-art">',
        *(f"          {line}" for line in art),
        "        </div>",
        "      </div>",
        "    </section>",
    ]


def _section(section: SectionCopy, *, alternate: bool, api: str | None = None) -> list[str]:
    e = escape
    classes = "section section-alt" if alternate else "section"
    layout = _api_placeholder(section, api) if api else _layout(section)
    return [
        f'    <section id="{section.id}" class="{classes}" aria-labelledby="{section.id}-title">',
        '      <div class="container">',
        f'        <h2 id="{section.id}-title">{e(section.heading)}</h2>',
        f'        <p class="section-intro">{e(section.intro)}</p>',
        *(f"        {line}" for line in layout),
        "      </div>",
        "    </section>",
    ]


def _api_placeholder(section: SectionCopy, api: str) -> list[str]:
    """Where the page's script renders the section's items, fetched from the site's API."""
    e = escape
    return [
        f'<div class="cards" data-api="{e(api)}" aria-live="polite" aria-busy="true">',
        f'  <p class="api-status">Loading {e(section.label.lower())}…</p>',
        "</div>",
    ]


def _layout(section: SectionCopy) -> list[str]:
    e = escape
    items = section.items
    if section.layout == "gallery":
        lines = ['<div class="gallery">']
        for item in items:
            lines.extend(
                [
                    '  <figure class="tile">',
                    f'    <div class="tile-art" role="img" aria-label="{e(item.title)}"></div>',
                    f"    <figcaption><strong>{e(item.title)}</strong> "
                    f"<span>{e(item.text)}</span></figcaption>",
                    "  </figure>",
                ]
            )
        return [*lines, "</div>"]
    if section.layout == "list":
        lines = ['<dl class="timetable">']
        for item in items:
            note = f" <small>{e(item.text)}</small>" if item.text else ""
            lines.append(
                f'  <div class="row"><dt>{e(item.title)}{note}</dt><dd>{e(item.meta)}</dd></div>'
            )
        return [*lines, "</dl>"]
    if section.layout == "steps":
        lines = ['<ol class="steps">']
        for item in items:
            lines.append(f"  <li><h3>{e(item.title)}</h3><p>{e(item.text)}</p></li>")
        return [*lines, "</ol>"]
    if section.layout == "quotes":
        lines = ['<div class="quotes">']
        for item in items:
            lines.append(
                f'  <figure class="quote"><blockquote><p>{e(item.title)}</p></blockquote>'
                f"<figcaption>{e(item.meta)}</figcaption></figure>"
            )
        return [*lines, "</div>"]
    if section.layout == "faq":
        lines = ['<div class="faq">']
        for item in items:
            lines.append(
                f"  <details><summary>{e(item.title)}</summary><p>{e(item.text)}</p></details>"
            )
        return [*lines, "</div>"]
    lines = ['<div class="cards">']
    for item in items:
        meta = f'<p class="meta">{e(item.meta)}</p>' if item.meta else ""
        lines.append(
            f'  <article class="card"><h3>{e(item.title)}</h3><p>{e(item.text)}</p>{meta}</article>'
        )
    return [*lines, "</div>"]


def _contact(design: SiteDesign, *, alternate: bool) -> list[str]:
    e = escape
    classes = "section contact section-alt" if alternate else "section contact"
    return [
        f'    <section id="{CONTACT_SECTION_ID}" class="{classes}" '
        'aria-labelledby="contact-title">',
        '      <div class="container contact-inner">',
        '        <div class="contact-copy">',
        f'          <h2 id="contact-title">{e(design.contact_heading)}</h2>',
        f'          <p class="section-intro">{e(design.contact_intro)}</p>',
        f'          <p>Or e-mail <a href="mailto:{e(contact_email(design))}">'
        f"{e(contact_email(design))}</a>.</p>",
        "        </div>",
        f'        <form id="{CONTACT_FORM_ID}" class="contact-form" action="#" method="post">',
        '          <div class="field">',
        '            <label for="name">Name</label>',
        '            <input id="name" name="name" type="text" autocomplete="name" required>',
        "          </div>",
        '          <div class="field">',
        '            <label for="email">Email</label>',
        '            <input id="email" name="email" type="email" autocomplete="email" required>',
        "          </div>",
        '          <div class="field">',
        '            <label for="message">Message</label>',
        f'            <textarea id="message" name="message" rows="5" required '
        f'placeholder="{e(design.message_hint)}"></textarea>',
        "          </div>",
        '          <button class="button" type="submit">Send message</button>',
        '          <p class="form-status" role="status" aria-live="polite"></p>',
        "        </form>",
        "      </div>",
        "    </section>",
    ]


def _footer(design: SiteDesign) -> list[str]:
    e = escape
    where = f" · {e(design.location)}" if design.location else ""
    return [
        '  <footer class="site-footer">',
        '    <div class="container footer-inner">',
        f"      <p><strong>{e(design.name)}</strong>{where}</p>",
        f"      <p>{e(design.tagline)}</p>",
        '      <p><a href="#home">Back to top</a></p>',
        "    </div>",
        "  </footer>",
    ]


def _initial(name: str) -> str:
    for char in name:
        if char.isalnum():
            return char.upper()
    return "•"


def render_styles(design: SiteDesign) -> str:
    p = design.palette
    accent_soft = mix(p.accent, p.background, 0.55)
    playful = design.tone == "playful"
    minimal = design.tone == "minimal"
    heading_weight = {"minimal": 600, "playful": 800, "elegant": 500}.get(design.tone, 700)
    hero_glow = (
        "none"
        if minimal
        else (
            f"radial-gradient(circle at 85% 15%, {accent_soft} 0, transparent 45%), "
            f"radial-gradient(circle at 10% 90%, {p.surface_alt} 0, transparent 40%)"
        )
    )
    variables = f""":root {{
  color-scheme: {p.mode};
  --bg: {p.background};
  --surface: {p.surface};
  --surface-alt: {p.surface_alt};
  --text: {p.text};
  --muted: {p.muted};
  --border: {p.border};
  --accent: {p.accent};
  --accent-ink: {p.accent_ink};
  --accent-soft: {accent_soft};
  --on-accent: {p.on_accent};
  --radius: {design.radius_px}px;
  --font-heading: {design.heading_font};
  --font-body: {design.body_font};
  --heading-weight: {heading_weight};
  --hero-glow: {hero_glow};
  --shadow: {"none" if minimal else "0 10px 30px -18px rgba(0, 0, 0, 0.45)"};
  --max-width: 72rem;
}}
"""
    return variables + _BASE_CSS + (_PLAYFUL_CSS if playful else "")


_BASE_CSS = """
*,
*::before,
*::after {
  box-sizing: border-box;
}

html {
  scroll-behavior: smooth;
  -webkit-text-size-adjust: 100%;
}

body {
  margin: 0;
  background: var(--bg);
  color: var(--text);
  font-family: var(--font-body);
  font-size: 1.0625rem;
  line-height: 1.6;
  overflow-wrap: break-word;
}

h1,
h2,
h3 {
  font-family: var(--font-heading);
  font-weight: var(--heading-weight);
  line-height: 1.15;
  margin: 0 0 0.5em;
  overflow-wrap: anywhere;
}

h1 {
  font-size: clamp(2.4rem, 7vw, 4.5rem);
  letter-spacing: -0.02em;
}

h2 {
  font-size: clamp(1.7rem, 4vw, 2.5rem);
}

h3 {
  font-size: 1.2rem;
}

p {
  margin: 0 0 1em;
}

a {
  color: var(--accent-ink);
}

a:focus-visible,
button:focus-visible,
input:focus-visible,
textarea:focus-visible,
summary:focus-visible {
  outline: 3px solid var(--accent);
  outline-offset: 2px;
}

.container {
  width: min(100% - 2.5rem, var(--max-width));
  margin-inline: auto;
}

.skip-link {
  position: absolute;
  left: -999px;
  top: 0;
  background: var(--accent);
  color: var(--on-accent);
  padding: 0.5rem 1rem;
  z-index: 20;
}

.skip-link:focus {
  left: 1rem;
}

.site-header {
  position: sticky;
  top: 0;
  z-index: 10;
  background: var(--bg);
  border-bottom: 1px solid var(--border);
}

.header-inner {
  display: flex;
  align-items: center;
  justify-content: space-between;
  gap: 1rem;
  min-height: 4rem;
}

.brand {
  display: inline-flex;
  align-items: center;
  gap: 0.6rem;
  min-width: 0;
  color: var(--text);
  font-family: var(--font-heading);
  font-weight: var(--heading-weight);
  font-size: 1.15rem;
  text-decoration: none;
}

.brand span:last-child {
  overflow: hidden;
  text-overflow: ellipsis;
  white-space: nowrap;
}

.brand-mark {
  display: grid;
  place-items: center;
  flex: none;
  width: 2.2rem;
  height: 2.2rem;
  border-radius: calc(var(--radius) * 0.75);
  background: var(--accent);
  color: var(--on-accent);
}

.site-nav ul {
  display: flex;
  flex-wrap: wrap;
  gap: 0.25rem 1.25rem;
  margin: 0;
  padding: 0;
  list-style: none;
}

.site-nav a {
  color: var(--text);
  text-decoration: none;
  padding: 0.4rem 0;
  border-bottom: 2px solid transparent;
}

.site-nav a:hover {
  border-bottom-color: var(--accent);
}

.nav-toggle {
  display: none;
  font: inherit;
  background: transparent;
  color: var(--text);
  border: 1px solid var(--border);
  border-radius: var(--radius);
  padding: 0.4rem 0.9rem;
  cursor: pointer;
}

.hero {
  background: var(--hero-glow), var(--bg);
  padding: clamp(3rem, 9vw, 7rem) 0;
}

.hero-inner {
  display: grid;
  grid-template-columns: minmax(0, 1.3fr) minmax(0, 1fr);
  align-items: center;
  gap: 3rem;
}

.eyebrow {
  color: var(--accent-ink);
  font-weight: 600;
  letter-spacing: 0.08em;
  text-transform: uppercase;
  font-size: 0.85rem;
}

.tagline {
  font-size: 1.3rem;
  font-family: var(--font-heading);
}

.lead {
  color: var(--muted);
  max-width: 38rem;
}

.hero-actions {
  display: flex;
  flex-wrap: wrap;
  gap: 0.75rem;
  margin-top: 1.5rem;
}

.hero-art {
  display: flex;
  justify-content: center;
}

.hero-svg {
  width: 100%;
  max-width: 320px;
  height: auto;
  filter: drop-shadow(0 18px 30px rgba(0, 0, 0, 0.18));
}

.button {
  display: inline-block;
  background: var(--accent);
  color: var(--on-accent);
  border: 2px solid var(--accent);
  border-radius: var(--radius);
  padding: 0.7rem 1.4rem;
  font: inherit;
  font-weight: 600;
  text-decoration: none;
  cursor: pointer;
}

.button:hover {
  filter: brightness(1.08);
}

.button-ghost {
  background: transparent;
  color: var(--text);
  border-color: var(--border);
}

.section {
  padding: clamp(3rem, 8vw, 5.5rem) 0;
}

.section-alt {
  background: var(--surface-alt);
}

.section-intro {
  color: var(--muted);
  max-width: 42rem;
  margin-bottom: 2rem;
}

.cards,
.gallery,
.quotes {
  display: grid;
  grid-template-columns: repeat(auto-fit, minmax(min(100%, 15rem), 1fr));
  gap: 1.25rem;
}

.card,
.quote,
.steps li,
.faq details {
  background: var(--surface);
  border: 1px solid var(--border);
  border-radius: var(--radius);
  box-shadow: var(--shadow);
  padding: 1.4rem;
}

.card p:last-child,
.steps p:last-child {
  margin-bottom: 0;
}

.meta {
  color: var(--accent-ink);
  font-weight: 600;
}

.tile {
  margin: 0;
}

.tile-art {
  aspect-ratio: 4 / 3;
  border-radius: var(--radius);
  background: linear-gradient(135deg, var(--accent), var(--accent-soft));
}

.tile:nth-child(4n + 2) .tile-art {
  background: radial-gradient(circle at 30% 35%, var(--accent-soft), var(--surface-alt) 70%);
}

.tile:nth-child(4n + 3) .tile-art {
  background: linear-gradient(200deg, var(--surface-alt), var(--accent) 120%);
}

.tile:nth-child(4n + 4) .tile-art {
  background: conic-gradient(
    from 210deg at 65% 40%,
    var(--accent),
    var(--accent-soft),
    var(--accent)
  );
}

.tile figcaption {
  display: flex;
  flex-direction: column;
  padding-top: 0.6rem;
}

.tile figcaption span {
  color: var(--muted);
}

.steps {
  display: grid;
  grid-template-columns: repeat(auto-fit, minmax(min(100%, 15rem), 1fr));
  gap: 1.25rem;
  margin: 0;
  padding: 0;
  list-style: none;
  counter-reset: step;
}

.steps li {
  counter-increment: step;
}

.steps li::before {
  content: counter(step, decimal-leading-zero);
  display: block;
  color: var(--accent-ink);
  font-weight: 700;
  margin-bottom: 0.5rem;
}

.timetable {
  max-width: 40rem;
  margin: 0;
}

.timetable .row {
  display: flex;
  justify-content: space-between;
  gap: 1rem;
  padding: 0.8rem 0;
  border-bottom: 1px solid var(--border);
}

.timetable dt small {
  display: block;
  color: var(--muted);
}

.timetable dd {
  margin: 0;
  font-weight: 600;
  white-space: nowrap;
}

.quote {
  margin: 0;
}

.quote blockquote {
  margin: 0 0 0.8rem;
  font-family: var(--font-heading);
  font-size: 1.15rem;
}

.quote figcaption {
  color: var(--muted);
}

.faq {
  display: grid;
  gap: 0.75rem;
  max-width: 46rem;
}

.faq summary {
  cursor: pointer;
  font-weight: 600;
}

.faq details p {
  margin: 0.75rem 0 0;
}

.contact-inner {
  display: grid;
  grid-template-columns: minmax(0, 1fr) minmax(0, 1.2fr);
  gap: 3rem;
  align-items: start;
}

.contact-form {
  display: grid;
  gap: 1rem;
  background: var(--surface);
  border: 1px solid var(--border);
  border-radius: var(--radius);
  box-shadow: var(--shadow);
  padding: 1.5rem;
}

.field {
  display: grid;
  gap: 0.35rem;
}

.field label {
  font-weight: 600;
}

.field input,
.field textarea {
  width: 100%;
  font: inherit;
  color: var(--text);
  background: var(--bg);
  border: 1px solid var(--border);
  border-radius: calc(var(--radius) * 0.6);
  padding: 0.65rem 0.8rem;
}

.field textarea {
  resize: vertical;
}

.form-status {
  min-height: 1.6em;
  margin: 0;
  color: var(--accent-ink);
  font-weight: 600;
}

.site-footer {
  border-top: 1px solid var(--border);
  padding: 2.5rem 0;
  color: var(--muted);
}

.footer-inner {
  display: flex;
  flex-wrap: wrap;
  justify-content: space-between;
  gap: 0.5rem 2rem;
}

.footer-inner p {
  margin: 0;
}

@media (max-width: 760px) {
  .nav-toggle {
    display: inline-block;
  }

  .site-nav {
    display: none;
    position: absolute;
    top: 100%;
    left: 0;
    right: 0;
    background: var(--bg);
    border-bottom: 1px solid var(--border);
    padding: 0.5rem 1.25rem 1rem;
  }

  .site-nav.is-open {
    display: block;
  }

  .site-nav ul {
    flex-direction: column;
  }

  .site-nav a {
    display: block;
    padding: 0.6rem 0;
  }

  .hero-inner,
  .contact-inner {
    grid-template-columns: minmax(0, 1fr);
    gap: 2rem;
  }

  .hero-art {
    order: -1;
  }

  .hero-svg {
    max-width: 200px;
  }

  .timetable .row {
    flex-direction: column;
    gap: 0.2rem;
  }
}

@media (prefers-reduced-motion: reduce) {
  html {
    scroll-behavior: auto;
  }
}
"""

_PLAYFUL_CSS = """
.card:nth-child(odd),
.steps li:nth-child(odd) {
  transform: rotate(-0.6deg);
}

.card:nth-child(even),
.steps li:nth-child(even) {
  transform: rotate(0.6deg);
}

.button {
  border-radius: 999px;
}
"""


def render_script() -> str:
    return _SCRIPT


_SCRIPT = """// Mobile navigation and the contact form. No dependencies, nothing fetched.
(function () {
  "use strict";

  var toggle = document.querySelector(".nav-toggle");
  var nav = document.getElementById("site-nav");

  function setOpen(open) {
    if (!toggle || !nav) {
      return;
    }
    toggle.setAttribute("aria-expanded", String(open));
    nav.classList.toggle("is-open", open);
  }

  if (toggle && nav) {
    toggle.addEventListener("click", function () {
      setOpen(toggle.getAttribute("aria-expanded") !== "true");
    });
    nav.addEventListener("click", function (event) {
      if (event.target instanceof HTMLAnchorElement) {
        setOpen(false);
      }
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape") {
        setOpen(false);
      }
    });
  }

  var form = document.getElementById("contact-form");
  if (form) {
    var status = form.querySelector(".form-status");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!form.checkValidity()) {
        form.reportValidity();
        if (status) {
          status.textContent = "Please fill in every field.";
        }
        return;
      }
      var name = String(new FormData(form).get("name") || "").trim();
      if (status) {
        status.textContent = "Thank you" + (name ? ", " + name : "") +
          "! Your message is noted and we will reply soon.";
      }
      form.reset();
    });
  }
})();
"""
