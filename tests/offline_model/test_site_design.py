"""Requirements -> site design and files: kinds, names, themes, determinism, escaping."""

from __future__ import annotations

import re

import pytest

from tmux_builder.offline_model.palette import COLOR_WORDS, build_palette, contrast
from tmux_builder.offline_model.site_design import design_site
from tmux_builder.offline_model.site_facts import read_site_facts
from tmux_builder.offline_model.site_writer import INDEX_PATH, STYLES_PATH, write_site

ADA = "A portfolio website for a photographer named Ada, dark theme"
TEA = "a tea shop site with a dark theme"
EVIL = 'A shop named "Zoë\'s <script>alert(1)</script> & 🍰" with an FAQ, playful'


def test_ada_is_a_dark_photography_portfolio_named_ada():
    design = design_site(ADA)
    files = write_site(design)
    facts = read_site_facts(files[INDEX_PATH])

    assert design.kind == "photography"
    assert design.palette.mode == "dark"
    assert design.name == "Ada"
    assert "Ada" in facts.title
    assert "Ada" in facts.h1
    assert "color-scheme: dark;" in files[STYLES_PATH]


def test_tea_shop_with_dark_theme():
    design = design_site(TEA)

    assert design.kind == "tea"
    assert design.palette.mode == "dark"
    assert design.name == "The Tea House"
    assert [s.id for s in design.sections] == ["teas", "tastings", "visit"]


def test_same_requirements_give_byte_identical_files():
    assert write_site(design_site(ADA)) == write_site(design_site(ADA))


@pytest.mark.parametrize(
    "other",
    [
        "A portfolio website for a photographer named Ada, light theme",
        "A portfolio website for a photographer named Bea, dark theme",
        "A portfolio website for a photographer named Ada, dark theme, teal accents",
        "A portfolio website for a photographer named Ada, dark theme, minimal",
        "A portfolio website for a photographer named Ada, dark theme, with testimonials",
    ],
)
def test_different_requirements_change_the_site(other):
    assert write_site(design_site(other)) != write_site(design_site(ADA))


@pytest.mark.parametrize(
    ("requirements", "kind"),
    [
        (TEA, "tea"),
        ("A cosy coffee shop", "coffee"),
        ("a café with pastries", "coffee"),
        ("Our family bakery", "bakery"),
        ("a tea shop that also sells cakes", "tea"),
        ("a bakery that serves tea", "bakery"),
        ("An Italian restaurant", "restaurant"),
        ("portfolio for a wedding photographer", "photography"),
        ("A developer portfolio", "portfolio"),
        ("A UX designer's portfolio", "portfolio"),
        ("a blog about coffee", "blog"),
        ("A digital marketing agency", "agency"),
        ("Website for my gym", "gym"),
        ("a yoga studio", "yoga"),
        ("Our wedding website with RSVP", "wedding"),
        ("An online store for handmade soap", "shop"),
        ("A consulting firm", "consulting"),
        ("something nice for my team", "landing"),
    ],
)
def test_kind_of_site_is_detected(requirements, kind):
    assert design_site(requirements).kind == kind


@pytest.mark.parametrize(
    ("requirements", "name"),
    [
        (ADA, "Ada"),
        ("a bakery called the Golden Loaf in Lisbon", "The Golden Loaf"),
        ('a shop named "Common Thread"', "Common Thread"),
        ("a tea house named «Kyoto Leaf», green", "Kyoto Leaf"),
        ("Maria's bakery", "Maria's Bakery"),
        ("a website for Bloom Yoga Studio", "Bloom Yoga Studio"),
        ("a site named ada", "Ada"),
        ("Let's build a coffee shop site", "Corner Cup Coffee"),
        ("a blog", "Field Notes"),
    ],
)
def test_name_is_taken_from_the_requirements(requirements, name):
    assert design_site(requirements).name == name


def test_title_does_not_repeat_the_kind_the_name_already_says():
    assert design_site("a tea shop named Leaf Tea Shop").title == (
        "Leaf Tea Shop — Loose-leaf teas and quiet tastings"
    )


def test_colour_words_set_the_accent_but_the_name_does_not():
    assert design_site("a bakery, blue and white").palette.accent == COLOR_WORDS["blue"]
    golden = design_site("a bakery called Golden Loaf, pink")
    assert golden.palette.accent == COLOR_WORDS["pink"]
    assert design_site("a cafe named The Dark Horse").palette.mode == "light"


@pytest.mark.parametrize(
    ("requirements", "mode"),
    [
        ("night-time vibes for a bar restaurant", "dark"),
        ("a light, airy bakery", "light"),
        ("black and gold gym", "dark"),
        ("white background but a dark theme", "dark"),
        ("a yoga studio", "light"),
    ],
)
def test_theme_words_choose_light_or_dark(requirements, mode):
    assert design_site(requirements).palette.mode == mode


@pytest.mark.parametrize("mode", ["light", "dark"])
@pytest.mark.parametrize("accent", sorted(set(COLOR_WORDS.values())))
def test_link_colour_is_always_readable(mode, accent):
    palette = build_palette(mode, accent)

    assert contrast(palette.accent_ink, palette.background) >= 4.5
    assert contrast(palette.text, palette.background) >= 7


def test_tone_words_change_the_style():
    minimal = write_site(design_site("a bakery, minimal"))[STYLES_PATH]
    playful = write_site(design_site("a bakery, playful"))[STYLES_PATH]

    assert "--radius: 4px;" in minimal
    assert "--radius: 22px;" in playful
    assert "rotate(" in playful and "rotate(" not in minimal


def test_user_text_is_escaped_in_html():
    files = write_site(design_site(EVIL))
    html = files[INDEX_PATH]
    facts = read_site_facts(html)

    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "🍰" in html
    assert facts.h1 == "Zoë's <script>alert(1)</script> & 🍰"
    assert facts.title == "Zoë's <script>alert(1)</script> & 🍰 — Shop"


def test_control_characters_and_long_names_are_tamed():
    design = design_site("a shop named " + "Verylongname" * 10 + "\x00\x1b[31m")

    assert len(design.name) <= 48
    assert "\x00" not in write_site(design)[INDEX_PATH]


def test_index_has_the_required_structure():
    html = write_site(design_site("A bakery called Crumb with testimonials and an FAQ"))[INDEX_PATH]
    facts = read_site_facts(html)

    assert html.startswith("<!doctype html>")
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert facts.title.startswith("Crumb") and facts.h1 == "Crumb"
    assert len(facts.nav_targets) >= 4
    assert set(facts.nav_targets) <= set(facts.section_ids)
    assert len(facts.section_ids) >= 5
    assert facts.form_id == "contact-form"
    assert [(f.id, f.label) for f in facts.form_fields] == [
        ("name", "Name"),
        ("email", "Email"),
        ("message", "Message"),
    ]
    for tag in ("<header", "<nav", "<main", "<footer", "<h1"):
        assert tag in html
    assert "lorem" not in html.lower()


def test_nothing_is_fetched_from_the_network():
    files = write_site(design_site(ADA))

    assert not re.search(r'(src|href)="(https?:)?//', files[INDEX_PATH])
    assert "@import" not in files[STYLES_PATH]
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", files[STYLES_PATH])


def test_index_lines_stay_short_for_the_read_tool():
    html = write_site(design_site(EVIL))[INDEX_PATH]

    assert max(len(line) for line in html.splitlines()) < 400


def test_styles_are_responsive():
    css = write_site(design_site(ADA))[STYLES_PATH]

    assert ":root {" in css and "--accent:" in css
    assert "@media (max-width: 760px)" in css
    assert "display: grid" in css and "display: flex" in css
