"""Uploads end to end on the embedded stack: the Chalice routes, a real multipart POST to the
presigned URL on moto, and the server-side check by bytes that keeps or deletes the file."""

from __future__ import annotations

import base64
import io
import json
import struct
import zipfile
import zlib
from collections.abc import Callable
from typing import Any

import pytest
import requests

from control_plane import auth, sessions, store, uploads
from control_plane.web import openapi_document
from tmux_builder import aws, keys, naming
from tmux_builder.contracts import Provider, SiteType
from tmux_builder.settings import cloud

OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def tiny_png() -> bytes:
    """A valid 1x1 PNG, built with the standard library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


def zip_with(*names: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(name, "<w:document/>")
    return buffer.getvalue()


def bearer(user_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {auth.issue_client_token(user_id)}"}


@pytest.fixture
def owner(stack: Any) -> tuple[str, str]:
    """(user_id, session_id) of a fresh session."""
    user_id, session_id = naming.new_user_id(), naming.new_session_id()
    sessions.create(
        user_id, session_id, Provider.AWS, SiteType.STATIC, "A bakery site with opening hours"
    )
    return user_id, session_id


Call = Callable[..., Any]


@pytest.fixture
def api(client: Any) -> Call:
    """``api(method, path, headers, body=None)`` -> (status, parsed JSON)."""

    def call(method: str, path: str, headers: dict[str, str], body: Any = None) -> tuple[int, Any]:
        response = client.http.request(
            method,
            path,
            headers={"Content-Type": "application/json", **headers},
            body=json.dumps(body) if body is not None else b"",
        )
        return response.status_code, json.loads(response.body or b"null")

    return call


def start(api: Call, caller: str, session: str, /, **overrides: Any) -> tuple[int, Any]:
    """POST /api/upload as the client ``caller``; ``overrides`` replace body fields."""
    body = {"session_id": session, "filename": "design.png", "size": 1000, **overrides}
    body.setdefault("content_type", "image/png")
    return api("POST", "/api/upload", bearer(caller), body)


def post_file(ticket: dict[str, Any], data: bytes) -> requests.Response:
    """What a browser does: a multipart form with every field, then the file."""
    files = {"file": ("whatever.bin", data, ticket["fields"]["Content-Type"])}
    return requests.post(ticket["url"], data=ticket["fields"], files=files, timeout=30)


def objects_under(prefix: str) -> list[str]:
    found = aws.client("s3").list_object_versions(Bucket=cloud().artifacts_bucket, Prefix=prefix)
    return [v["Key"] for v in [*found.get("Versions", []), *found.get("DeleteMarkers", [])]]


def upload(
    api: Call,
    user_id: str,
    session_id: str,
    data: bytes,
    filename: str,
    content_type: str,
    declared_size: int | None = None,
) -> tuple[dict[str, Any], int, Any]:
    size = declared_size or len(data)
    code, ticket = start(
        api, user_id, session_id, filename=filename, content_type=content_type, size=size
    )
    assert code == 201, ticket
    assert post_file(ticket, data).status_code in (200, 201, 204)
    status, body = api("POST", f"/api/upload/{ticket['upload_id']}/complete", bearer(user_id))
    return ticket, status, body


# ------------------------------------------------------------------------ accepted


def test_a_real_png_is_stored_under_our_name_and_listed(api: Call, owner: tuple[str, str]) -> None:
    user_id, session_id = owner
    png = tiny_png()
    ticket, status, body = upload(api, user_id, session_id, png, "My Design.PNG", "image/png")

    upload_id = ticket["upload_id"]
    assert ticket["stored_name"] == f"{upload_id}.png"
    assert ticket["fields"]["key"] == keys.upload_object(
        user_id, session_id, upload_id, ticket["stored_name"]
    )
    assert ticket["max_bytes"] == uploads.MAX_UPLOAD_BYTES
    assert "x-amz-signature" in ticket["fields"]  # SigV4, not the deprecated SigV2
    policy = json.loads(base64.b64decode(ticket["fields"]["policy"]))
    assert ["content-length-range", 1, uploads.MAX_UPLOAD_BYTES] in policy["conditions"]
    assert {"Content-Type": "image/png"} in policy["conditions"]
    assert {"key": ticket["fields"]["key"]} in policy["conditions"]

    assert status == 200, body
    assert body["kind"] == "image"
    assert body["size"] == len(png)
    assert body["display_name"] == "My Design.PNG"
    assert body["stored_name"] == ticket["stored_name"]

    manifest_key = keys.upload_manifest(user_id, session_id, upload_id)
    raw = aws.client("s3").get_object(Bucket=cloud().artifacts_bucket, Key=manifest_key)
    manifest = uploads.UploadManifest.model_validate_json(raw["Body"].read())
    assert manifest.stored_name == ticket["stored_name"] and manifest.size == len(png)

    code, listed = api("GET", f"/api/uploads?session_id={session_id}", bearer(user_id))
    assert code == 200
    assert [u["upload_id"] for u in listed["uploads"]] == [upload_id]

    again = api("POST", f"/api/upload/{upload_id}/complete", bearer(user_id))
    assert again == (200, body)


@pytest.mark.parametrize(
    ("filename", "content_type", "data", "kind"),
    [
        ("photo.jpg", "image/jpeg", b"\xff\xd8\xff\xe0" + b"\x00" * 64, "image"),
        ("photo.jpeg", "", b"\xff\xd8\xff\xe0" + b"\x00" * 64, "image"),
        ("brief.pdf", "application/pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "pdf"),
        ("old.doc", "application/msword", OLE2 + b"\0" * 64, "document"),
        ("new.docx", DOCX, zip_with("[Content_Types].xml", "word/document.xml"), "document"),
        ("notes.txt", "text/plain; charset=utf-8", "Caf\u00e9 menu\n".encode(), "text"),
    ],
)
def test_every_allowed_type_is_accepted(
    api: Call, owner: tuple[str, str], filename: str, content_type: str, data: bytes, kind: str
) -> None:
    _, status, body = upload(api, *owner, data, filename, content_type)
    assert status == 200, body
    assert body["kind"] == kind


# ------------------------------------------------------------------------ rejected


@pytest.mark.parametrize(
    ("filename", "content_type", "data"),
    [
        ("design.png", "image/png", b"just some text pretending to be a picture"),
        ("design.png", "image/png", b"%PDF-1.4 a pdf named png"),
        ("page.docx", DOCX, zip_with("not-word.txt")),
        ("notes.txt", "text/plain", b"binary\x00inside"),
        ("notes.txt", "text/plain", b"\xff\xfe not utf-8"),
    ],
)
def test_a_file_whose_bytes_disagree_is_rejected_and_gone(
    api: Call, owner: tuple[str, str], filename: str, content_type: str, data: bytes
) -> None:
    user_id, session_id = owner
    ticket, status, body = upload(api, user_id, session_id, data, filename, content_type)
    assert status == 415, body
    assert body["fields"][0]["field"] == "file"

    upload_id = ticket["upload_id"]
    assert objects_under(keys.upload_folder(user_id, session_id, upload_id)) == []
    code, listed = api("GET", f"/api/uploads?session_id={session_id}", bearer(user_id))
    assert code == 200 and listed["uploads"] == []
    retry = api("POST", f"/api/upload/{upload_id}/complete", bearer(user_id))
    assert retry[0] == 409


def test_an_oversized_file_is_rejected_after_the_post(api: Call, owner: tuple[str, str]) -> None:
    """moto does not enforce the POST policy; the completion check does."""
    user_id, session_id = owner
    big = tiny_png() + b"\0" * uploads.MAX_UPLOAD_BYTES
    ticket, status, body = upload(api, user_id, session_id, big, "huge.png", "image/png", 1000)
    assert status == 400, body
    assert body["fields"][0]["field"] == "size"
    assert objects_under(keys.upload_folder(user_id, session_id, ticket["upload_id"])) == []


def test_completing_before_posting_is_409_and_stays_pending(
    api: Call, owner: tuple[str, str]
) -> None:
    user_id, session_id = owner
    code, ticket = start(api, user_id, session_id)
    assert code == 201
    path = f"/api/upload/{ticket['upload_id']}/complete"
    assert api("POST", path, bearer(user_id))[0] == 409
    assert post_file(ticket, tiny_png()).ok
    assert api("POST", path, bearer(user_id))[0] == 200


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"size": uploads.MAX_UPLOAD_BYTES + 1}, "size"),
        ({"size": 0}, "size"),
        ({"size": "10"}, "size"),
        ({"size": True}, "size"),
        ({"filename": "tool.exe", "content_type": "application/octet-stream"}, "filename"),
        ({"filename": "noextension"}, "filename"),
        ({"filename": ""}, "filename"),
        ({"filename": "x" * 252 + ".png"}, "filename"),
        ({"filename": "design.png", "content_type": "application/pdf"}, "content_type"),
        ({"filename": "a\nb.png"}, "filename"),
        ({"filename": "a\x00.png"}, "filename"),
        ({"session_id": "../../etc"}, "session_id"),
        ({"user_id": "not-a-user"}, "user_id"),
        ({"extra": 1}, "extra"),
    ],
)
def test_bad_declarations_are_400_naming_the_field(
    api: Call, owner: tuple[str, str], overrides: dict[str, Any], field: str
) -> None:
    code, body = start(api, *owner, **overrides)
    assert code == 400, body
    assert field in {f["field"] for f in body["fields"]}


@pytest.mark.parametrize(
    "filename",
    [
        "../../etc/passwd.png",
        "..\\..\\windows\\win.png",
        "/abs/olute.png",
        "sp ace .png",
        "caf\u00e9 \U0001f370.png",
        "evil\u202egnp.exe.png",
        "%2e%2e%2f.png",
        "x" * 250 + ".png",
    ],
)
def test_odd_filenames_never_reach_the_key(
    api: Call, owner: tuple[str, str], filename: str
) -> None:
    user_id, session_id = owner
    ticket, status, body = upload(api, user_id, session_id, tiny_png(), filename, "image/png")
    upload_id = ticket["upload_id"]
    expected = f"{keys.upload_folder(user_id, session_id, upload_id)}{upload_id}.png"
    assert ticket["fields"]["key"] == expected
    assert status == 200, body
    shown = body["display_name"]
    assert "/" not in shown and "\\" not in shown and "\u202e" not in shown
    assert 0 < len(shown) <= uploads.DISPLAY_NAME_MAX
    listing = aws.client("s3").list_objects_v2(
        Bucket=cloud().artifacts_bucket, Prefix=keys.upload_folder(user_id, session_id, upload_id)
    )
    assert sorted(o["Key"] for o in listing["Contents"]) == sorted(
        [expected, keys.upload_manifest(user_id, session_id, upload_id)]
    )


def test_display_names_are_cleaned() -> None:
    assert uploads.display_name("../../etc/passwd.png", "png") == "passwd.png"
    assert uploads.display_name("evil\u202egnp.exe.png", "png") == "evilgnp.exe.png"
    assert uploads.display_name("///", "png") == "upload.png"
    long = uploads.display_name("y" * 300 + ".docx", "docx")
    assert len(long) == uploads.DISPLAY_NAME_MAX and long.endswith("\u2026.docx")


# ------------------------------------------------------------------------ who may


def test_every_upload_route_needs_a_credential(api: Call, owner: tuple[str, str]) -> None:
    user_id, session_id = owner
    for method, path, body in (
        ("POST", "/api/upload", {"session_id": session_id, "filename": "a.png", "size": 1}),
        ("POST", f"/api/upload/upl_{'0' * 24}/complete", None),
        ("GET", f"/api/uploads?session_id={session_id}", None),
    ):
        code, answer = api(method, path, {}, body)
        assert code == 401, (method, path, answer)


def test_another_users_session_and_upload_are_403(api: Call, owner: tuple[str, str]) -> None:
    user_id, session_id = owner
    intruder = naming.new_user_id()
    assert start(api, intruder, session_id)[0] == 403
    assert start(api, intruder, session_id, user_id=user_id)[0] == 403
    code, listed = api("GET", f"/api/uploads?session_id={session_id}", bearer(intruder))
    assert code == 403, listed

    code, ticket = start(api, user_id, session_id)
    assert code == 201
    path = f"/api/upload/{ticket['upload_id']}/complete"
    assert api("POST", path, bearer(intruder))[0] == 403


def test_unknown_session_and_upload_are_404(api: Call, owner: tuple[str, str]) -> None:
    user_id, _ = owner
    assert start(api, user_id, naming.new_session_id())[0] == 404
    assert api("POST", f"/api/upload/upl_{'a' * 24}/complete", bearer(user_id))[0] == 404
    code, body = api("POST", "/api/upload/..%2f..%2fx/complete", bearer(user_id))
    assert code in (400, 404), body


def test_a_deleted_session_takes_no_uploads(api: Call, owner: tuple[str, str]) -> None:
    user_id, session_id = owner
    store.update(keys.session(user_id, session_id), {"status": "deleted"})
    assert start(api, user_id, session_id)[0] == 409


def test_the_admin_uploads_for_a_user(
    api: Call, owner: tuple[str, str], admin: dict[str, str]
) -> None:
    user_id, session_id = owner
    body = {"session_id": session_id, "filename": "a.png", "content_type": "image/png", "size": 9}
    code, ticket = api("POST", "/api/upload", admin, body)
    assert code == 201, ticket
    assert ticket["fields"]["key"].startswith(keys.uploads_prefix(user_id, session_id))
    wrong_owner = {**body, "user_id": naming.new_user_id()}
    assert api("POST", "/api/upload", admin, wrong_owner)[0] == 404
    assert post_file(ticket, tiny_png()).ok
    code, done = api("POST", f"/api/upload/{ticket['upload_id']}/complete", admin)
    assert code == 200, done
    listed = api("GET", f"/api/uploads?session_id={session_id}&user_id={user_id}", admin)
    assert listed[0] == 200 and len(listed[1]["uploads"]) == 1


def test_upload_routes_are_in_the_openapi_document(stack: Any) -> None:
    import control_plane.app  # noqa: F401  (registers the routes)

    paths = openapi_document()["paths"]
    assert "post" in paths["/api/upload"]
    assert "post" in paths["/api/upload/{upload_id}/complete"]
    assert "get" in paths["/api/uploads"]
