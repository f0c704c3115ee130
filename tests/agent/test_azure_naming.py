"""Azure names: valid for Azure, distinct for every site, the same for every deploy of one."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta

import pytest

from tmux_builder import naming

USER_ID = "0123456789abcdef0123456789abcdef"


def test_storage_account_names_are_valid_and_stable_per_site() -> None:
    session = "sess_20250101T000000_abcdef"
    name = naming.azure_storage_account_name(USER_ID, session)
    assert re.fullmatch(r"[a-z0-9]{3,24}", name)
    assert name.startswith("t0123456789ab")  # the user's prefix, as every resource carries
    assert naming.azure_storage_account_name(USER_ID, session) == name


def test_storage_account_names_never_collide_for_many_sites_per_user_per_day() -> None:
    day = datetime(2026, 11, 21, tzinfo=UTC)
    sessions = [
        f"sess_{(day + timedelta(seconds=s)).strftime('%Y%m%dT%H%M%S')}_{tail:06x}"
        for s, tail in itertools.product(range(0, 86400, 97), (0, 1, 0xABCDEF, 0xFFFFFF))
    ]
    users = [USER_ID, "fedcba9876543210fedcba9876543210"]
    names = {naming.azure_storage_account_name(u, s) for u in users for s in sessions}
    assert len(names) == len(users) * len(sessions)
    assert all(re.fullmatch(r"[a-z0-9]{3,24}", n) for n in names)
    # Random session ids of one second, too (the random tail keeps them apart).
    now = datetime(2026, 11, 21, 7, 30, tzinfo=UTC)
    fresh = {naming.new_session_id(now) for _ in range(300)}
    assert len({naming.azure_storage_account_name(USER_ID, s) for s in fresh}) == len(fresh)


def test_storage_account_names_refuse_what_is_not_a_session() -> None:
    with pytest.raises(ValueError):
        naming.azure_storage_account_name(USER_ID, "sess_x")
    with pytest.raises(ValueError):
        naming.azure_storage_account_name(USER_ID, "sess_20190101T000000_abcdef")
    with pytest.raises(ValueError):
        naming.azure_storage_account_name("not-a-user", "sess_20250101T000000_abcdef")


def test_group_and_container_names_are_the_sites_resource_name() -> None:
    name = naming.resource_name(
        USER_ID, naming.site_slug("A tea shop", "sess_20250101T000000_abc123")
    )
    assert naming.azure_resource_group_name(name) == name
    assert naming.azure_container_name(name) == name
    for bad in ("Tmux-x", "tmux--double", "-lead", "ab"):
        with pytest.raises(ValueError):
            naming.azure_container_name(bad)
    with pytest.raises(ValueError):
        naming.azure_resource_group_name("someone-elses-group")
