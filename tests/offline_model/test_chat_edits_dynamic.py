"""Chat edits on a dynamic site: the page at ``code/index.html``, its styles under
``code/assets/`` (the contract of :mod:`tmux_builder.dynamic_site`), through whole chat turns."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.offline_model.test_chat_edits import consistent, css_var, rgb, write_chat
from tmux_builder.dynamic_site import ASSETS_DIR, ENTRY_PAGE
from tmux_builder.offline_model.chat_edits import chat_deliverable, stylesheet_of
from tmux_builder.offline_model.dynamic_app_writer import (
    DYNAMIC_INDEX_PATH,
    DYNAMIC_STYLES_PATH,
    api_route,
    write_dynamic_site,
)
from tmux_builder.offline_model.messages_api import ToolUseBlock
from tmux_builder.offline_model.site_design import design_site
from tmux_builder.offline_model.site_facts import read_site_facts
from tmux_builder.offline_model.site_writer import INDEX_PATH, STYLES_PATH

from .cli_double import CliDouble

BAKERY = "A bakery called Crumb with a menu of breads from an API and a contact form."


@pytest.fixture(scope="module")
def app() -> dict[str, str]:
    return write_dynamic_site(design_site(BAKERY))


@pytest.fixture
def workdir(tmp_path: Path, app: dict[str, str]) -> Path:
    for path, text in app.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    return tmp_path


def test_the_dynamic_site_keeps_the_contract_paths() -> None:
    assert DYNAMIC_INDEX_PATH == INDEX_PATH == f"code/{ENTRY_PAGE}"
    assert f"code/{ASSETS_DIR}/styles.css" == DYNAMIC_STYLES_PATH


def test_a_colour_edit_changes_the_assets_stylesheet_only(
    workdir: Path, app: dict[str, str]
) -> None:
    cli = CliDouble(workdir)

    answer = cli.run_turn(write_chat(workdir, "make the background blue"))

    steps = [[b.name for b in r.content if isinstance(b, ToolUseBlock)] for r in cli.replies]
    assert steps == [["Read"], ["Read", "Read", "Read"], ["Write", "Write"], []]
    assert answer.startswith("Done. I changed the site:")
    assert f"`{DYNAMIC_STYLES_PATH}`" in answer
    css = (workdir / DYNAMIC_STYLES_PATH).read_text()
    bg = css_var(css, "bg")
    assert bg != css_var(app[DYNAMIC_STYLES_PATH], "bg")
    assert rgb(bg)[2] > rgb(bg)[0]
    assert not (workdir / STYLES_PATH).exists(), "no static-site stylesheet appears"
    # The app's own additions to the stylesheet (the API-filled cards) stay.
    assert css.count(".api-status") == app[DYNAMIC_STYLES_PATH].count(".api-status") > 0


def test_name_headline_and_section_edits_keep_the_app_working(
    workdir: Path, app: dict[str, str]
) -> None:
    cli = CliDouble(workdir)
    api_section = api_route(design_site(BAKERY)).rsplit("/", 1)[1]

    cli.run_turn(write_chat(workdir, "call the site Loaf", "msg_1"))
    cli.run_turn(write_chat(workdir, "change the headline to Bread from dawn", "msg_2"))
    cli.run_turn(write_chat(workdir, "add a section about opening hours", "msg_3"))
    answer = cli.run_turn(write_chat(workdir, "use green as the main colour", "msg_4"))

    assert answer.startswith("Done. I changed the site:")
    html = (workdir / INDEX_PATH).read_text()
    facts = read_site_facts(html)
    assert facts.h1 == "Loaf" and facts.title.startswith("Loaf")
    assert "Bread from dawn" in html
    assert any("hours" in section for section in facts.section_ids)
    consistent(html)
    # Still the dynamic page: its assets, and the section the API fills.
    assert f'href="{ASSETS_DIR}/styles.css"' in html
    assert f'src="{ASSETS_DIR}/script.js"' in html
    assert f'data-api="/api/{api_section}"' in html
    assert css_var((workdir / DYNAMIC_STYLES_PATH).read_text(), "accent") != css_var(
        app[DYNAMIC_STYLES_PATH], "accent"
    )
    for untouched in ("code/server.js", "code/package.json", f"code/{ASSETS_DIR}/script.js"):
        assert (workdir / untouched).read_text() == app[untouched], untouched
    assert not (workdir / STYLES_PATH).exists()


def test_the_linked_stylesheet_wins_when_both_exist(app: dict[str, str]) -> None:
    html = app[DYNAMIC_INDEX_PATH]
    both: dict[str, str | None] = {
        INDEX_PATH: html,
        STYLES_PATH: "body{}",
        DYNAMIC_STYLES_PATH: app[DYNAMIC_STYLES_PATH],
    }
    assert stylesheet_of(html, both) == DYNAMIC_STYLES_PATH
    static_html = re.sub(r'href="assets/styles\.css"', 'href="styles.css"', html)
    assert stylesheet_of(static_html, both) == STYLES_PATH
    only_page: dict[str, str | None] = {INDEX_PATH: html}
    assert stylesheet_of(html, only_page) == STYLES_PATH  # none read: the default

    changed = chat_deliverable("make the background blue", both)
    assert DYNAMIC_STYLES_PATH in changed.files
    assert STYLES_PATH not in changed.files
