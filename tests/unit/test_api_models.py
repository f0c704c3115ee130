from __future__ import annotations

import json

import pytest

from control_plane.api_models import MAX_BODY_BYTES, CreateUserRequest, parse_body
from control_plane.errors import InvalidRequest, PayloadTooLarge

GOOD = {
    "email": "ada@example.com",
    "phone": "+1 555-123-4567",
    "host_provider": "aws",
    "site_type": "static",
    "requirements": "A portfolio website for a photographer named Ada, dark theme",
}


def parse(body: object, content_type: str | None = "application/json") -> CreateUserRequest:
    raw = body if isinstance(body, bytes | str) else json.dumps(body)
    return parse_body(CreateUserRequest, raw, content_type)


def fields_of(exc: InvalidRequest) -> set[str]:
    return {f.field for f in exc.fields}


def test_the_seed_body_is_accepted() -> None:
    request = parse(GOOD)
    assert request.email == "ada@example.com"
    assert request.host_provider.value == "aws"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"host_provider": "gcp"}, "host_provider"),
        ({"site_type": "wordpress"}, "site_type"),
        ({"requirements": "short"}, "requirements"),
        ({"requirements": "x" * 4001}, "requirements"),
        ({"requirements": "a site\x00 with a NUL byte"}, "requirements"),
        ({"phone": "call me; rm -rf /"}, "phone"),
        ({"requirements": 42}, "requirements"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_bad_fields_are_named(change: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse({**GOOD, **change})
    assert field in fields_of(caught.value)
    assert caught.value.status_code == 400


def test_missing_fields_are_named() -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse({"phone": "12345678"})
    assert {"email", "requirements"} <= fields_of(caught.value)


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"", b"\xff\xfe"])
def test_malformed_bodies_are_400(raw: bytes) -> None:
    with pytest.raises(InvalidRequest):
        parse(raw)


def test_shell_metacharacters_in_requirements_are_just_text() -> None:
    text = "A shop `rm -rf /` $(whoami) && echo 'pwned' | tee x; <script>alert(1)</script>"
    assert parse({**GOOD, "requirements": text}).requirements == text


def test_oversized_body_is_413() -> None:
    with pytest.raises(PayloadTooLarge):
        parse(b"{" + b" " * MAX_BODY_BYTES + b"}")


def test_wrong_content_type_is_400() -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse(GOOD, content_type="text/plain")
    assert "Content-Type" in fields_of(caught.value)
