"""Users by e-mail: one per address, concurrent sign-ups agree, a torn-down user starts over."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from control_plane import teardown, users


def test_one_user_per_address_even_when_requests_race(stack: Any) -> None:
    with ThreadPoolExecutor(max_workers=6) as pool:
        refs = list(pool.map(lambda _: users.find_or_create("race@example.com", None), range(6)))
    assert len({r.user_id for r in refs}) == 1
    assert sum(r.is_new for r in refs) == 1


def test_an_address_of_a_deleted_user_starts_over(stack: Any) -> None:
    first = users.find_or_create("gone@example.com", None)
    assert first.is_new
    teardown.teardown_user(first.user_id)
    again = users.find_or_create("Gone@Example.com", None)
    assert again.is_new
    assert again.user_id != first.user_id
    assert users.find_or_create("gone@example.com", None).user_id == again.user_id
