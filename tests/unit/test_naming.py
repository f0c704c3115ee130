from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tmux_builder import keys, naming
from tmux_builder.pipeline import Step


def test_user_ids_are_random_128_bit_hex() -> None:
    ids = {naming.new_user_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(naming.USER_ID_RE.match(i) for i in ids)


def test_prefix_and_resource_names() -> None:
    user_id = "0123456789abcdef0123456789abcdef"
    assert naming.user_prefix(user_id) == "0123456789ab"
    name = naming.resource_name(user_id, "tea-shop-a1b2c3")
    assert name == "tmux-0123456789ab-tea-shop-a1b2c3"
    with pytest.raises(ValueError):
        naming.user_prefix("not-a-user")
    with pytest.raises(ValueError):
        naming.resource_name(user_id, "Bad_Slug")


def test_slug_drops_filler_words_and_stays_bucket_safe() -> None:
    assert naming.slugify("A tea shop site with a dark theme!") == "tea-shop"
    assert naming.slugify("Ünïcödé café, s'il vous plaît") == "unicode-cafe-s-il-vous"
    assert naming.slugify("!!!") == "site"
    long = naming.slugify("portfolio " * 20)
    assert len(long) <= naming.SLUG_MAX


def test_site_slug_keeps_two_sites_of_one_user_apart() -> None:
    now = datetime(2026, 11, 21, 7, 30, tzinfo=UTC)
    a, b = naming.new_session_id(now), naming.new_session_id(now)
    assert naming.SESSION_ID_RE.match(a)
    assert naming.site_slug("tea shop", a) != naming.site_slug("tea shop", b)
    user_id = naming.new_user_id()
    for session in (a, b):
        bucket = naming.resource_name(user_id, naming.site_slug("x" * 200, session))
        assert 3 <= len(bucket) <= 63


def test_execution_id_matches_its_pattern() -> None:
    user_id = naming.new_user_id()
    session = naming.new_session_id()
    assert naming.EXECUTION_ID_RE.match(naming.execution_id(user_id, session))
    assert naming.execution_id(user_id, session, redeploy=2).endswith("_r2")


def test_tags_and_masking() -> None:
    tags = naming.resource_tags("u" * 32, "sess", "static")
    assert tags == {
        "Project": "tmux-builder",
        "UserGUID": "u" * 32,
        "SessionID": "sess",
        "SiteType": "static",
        "CreatedBy": "tmux-builder-automation",
    }
    assert naming.mask_email("ada@example.com") == "a***@example.com"
    assert naming.email_digest(" Ada@Example.com ") == naming.email_digest("ada@example.com")


def test_step_keys_sort_in_pipeline_order() -> None:
    sort_keys = [keys.step("e", step)["sk"] for step in Step]
    assert sort_keys == sorted(sort_keys)
    assert keys.execution("e")["sk"] < sort_keys[0]
