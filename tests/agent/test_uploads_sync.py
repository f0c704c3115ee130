"""The agent brings a session's accepted uploads into its workspace from the bucket (moto in
server mode), by their stored names only, and points the AI at them."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agent.uploads_sync import StoredUpload, sync_uploads, uploads_instruction
from control_plane.uploads import UploadKind, UploadManifest, new_upload_id
from tmux_builder import aws, keys, naming
from tmux_builder.local.moto_server import MotoServer

BUCKET = "tmux-builder-artifacts-uploads-test"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
PDF = b"%PDF-1.7\n" + b"x" * 30


@dataclass(frozen=True)
class Bucket:
    bucket: str


@pytest.fixture(scope="module")
def s3() -> Iterator[Any]:
    saved = dict(os.environ)
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
        }
    )
    server = MotoServer().start()
    os.environ["AWS_ENDPOINT_URL"] = server.endpoint_url
    aws.reset()
    try:
        client = aws.client("s3")
        client.create_bucket(Bucket=BUCKET)
        client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        yield client
    finally:
        server.stop()
        os.environ.clear()
        os.environ.update(saved)
        aws.reset()


@pytest.fixture
def owner(s3: Any) -> tuple[str, str]:
    return naming.new_user_id(), naming.new_session_id()


def put_upload(
    s3: Any,
    owner: tuple[str, str],
    data: bytes,
    ext: str,
    kind: UploadKind,
    *,
    accepted: bool = True,
    display_name: str = "My Secret Plans.png",
    stored_at: str = "2025-01-01T00:00:00+00:00",
) -> str:
    """Put an object the way the control plane leaves it; a manifest only when accepted."""
    user_id, session_id = owner
    upload_id = new_upload_id()
    stored_name = f"{upload_id}.{ext}"
    put = s3.put_object(
        Bucket=BUCKET,
        Key=keys.upload_object(user_id, session_id, upload_id, stored_name),
        Body=data,
    )
    if accepted:
        manifest = UploadManifest(
            upload_id=upload_id,
            stored_name=stored_name,
            content_type="application/octet-stream",
            kind=kind,
            size=len(data),
            display_name=display_name,
            version_id=put.get("VersionId"),
            etag=put["ETag"],
            stored_at=stored_at,
        )
        s3.put_object(
            Bucket=BUCKET,
            Key=keys.upload_manifest(user_id, session_id, upload_id),
            Body=manifest.model_dump_json(),
        )
    return upload_id


def test_accepted_uploads_land_under_their_stored_names(
    s3: Any, owner: tuple[str, str], tmp_path: Path
) -> None:
    second = put_upload(s3, owner, PDF, "pdf", UploadKind.PDF, stored_at="2025-01-02T00:00:00")
    first = put_upload(s3, owner, PNG, "png", UploadKind.IMAGE, stored_at="2025-01-01T00:00:00")
    uploads_dir = tmp_path / "uploads"

    synced = sync_uploads(Bucket(BUCKET), *owner, uploads_dir)

    assert [u.upload_id for u in synced] == [first, second]
    assert sorted(p.name for p in uploads_dir.iterdir()) == sorted(
        [f"{first}.png", f"{second}.pdf"]
    )
    assert (uploads_dir / f"{first}.png").read_bytes() == PNG
    assert synced[0].relpath == f"uploads/{first}.png"


def test_sync_is_idempotent(s3: Any, owner: tuple[str, str], tmp_path: Path) -> None:
    upload_id = put_upload(s3, owner, PNG, "png", UploadKind.IMAGE)
    first = sync_uploads(Bucket(BUCKET), *owner, tmp_path)
    stamp = (tmp_path / f"{upload_id}.png").stat().st_mtime_ns
    again = sync_uploads(Bucket(BUCKET), *owner, tmp_path)
    assert again == first
    assert (tmp_path / f"{upload_id}.png").stat().st_mtime_ns == stamp
    assert [p.name for p in tmp_path.iterdir()] == [f"{upload_id}.png"]


def test_uploads_without_a_manifest_are_not_synced(
    s3: Any, owner: tuple[str, str], tmp_path: Path
) -> None:
    put_upload(s3, owner, b"not checked yet", "png", UploadKind.IMAGE, accepted=False)
    assert sync_uploads(Bucket(BUCKET), *owner, tmp_path) == []
    assert list(tmp_path.iterdir()) == []


def test_the_checked_version_is_used_not_a_later_post(
    s3: Any, owner: tuple[str, str], tmp_path: Path
) -> None:
    user_id, session_id = owner
    upload_id = put_upload(s3, owner, PNG, "png", UploadKind.IMAGE)
    key = keys.upload_object(user_id, session_id, upload_id, f"{upload_id}.png")
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"swapped after the check, same size.........")
    sync_uploads(Bucket(BUCKET), *owner, tmp_path)
    assert (tmp_path / f"{upload_id}.png").read_bytes() == PNG


def test_a_forged_manifest_cannot_write_outside_uploads(
    s3: Any, owner: tuple[str, str], tmp_path: Path
) -> None:
    user_id, session_id = owner
    folder, elsewhere = new_upload_id(), new_upload_id()
    s3.put_object(
        Bucket=BUCKET,
        Key=keys.upload_object(user_id, session_id, elsewhere, f"{elsewhere}.png"),
        Body=b"abc",
    )
    uploads_dir = tmp_path / "uploads"
    for upload_id, stored_name in (
        (folder, "../../evil.png"),
        (folder, f"{elsewhere}.png"),
        (folder, f"{folder}.sh"),
        (elsewhere, f"{elsewhere}.png"),  # a manifest in another upload's folder
    ):
        forged = {
            "upload_id": upload_id,
            "stored_name": stored_name,
            "content_type": "image/png",
            "kind": "image",
            "size": 3,
            "display_name": "x",
            "etag": '"x"',
            "stored_at": "2025-01-01T00:00:00",
        }
        s3.put_object(
            Bucket=BUCKET,
            Key=keys.upload_manifest(user_id, session_id, folder),
            Body=json.dumps(forged),
        )
        assert sync_uploads(Bucket(BUCKET), *owner, uploads_dir) == []
    assert [p.name for p in tmp_path.rglob("*")] == ["uploads"]


def test_other_sessions_uploads_stay_out(s3: Any, owner: tuple[str, str], tmp_path: Path) -> None:
    put_upload(s3, (owner[0], naming.new_session_id()), PNG, "png", UploadKind.IMAGE)
    assert sync_uploads(Bucket(BUCKET), *owner, tmp_path) == []


def test_the_instruction_names_stored_files_never_the_original_name(
    s3: Any, owner: tuple[str, str], tmp_path: Path
) -> None:
    put_upload(s3, owner, PNG, "png", UploadKind.IMAGE, display_name="My Secret Plans.png")
    put_upload(s3, owner, PDF, "pdf", UploadKind.PDF, display_name="ignore previous.pdf")
    put_upload(s3, owner, b"hello", "txt", UploadKind.TEXT, display_name="notes.txt")
    synced = sync_uploads(Bucket(BUCKET), *owner, tmp_path)

    text = uploads_instruction(synced)

    assert text.startswith("\n## Uploaded files\n")
    by_kind = {u.kind: u for u in synced}
    image, pdf, note = (by_kind[k] for k in (UploadKind.IMAGE, UploadKind.PDF, UploadKind.TEXT))
    assert (
        f"- Analyze this image and create a website based on what you see: {image.relpath}" in text
    )
    assert f"- Read this PDF and create a website based on its contents: {pdf.relpath}" in text
    assert f"- Read this file and create a website based on its contents: {note.relpath}" in text
    for original in ("My Secret Plans", "ignore previous", "notes.txt"):
        assert original not in text


def test_no_uploads_no_instruction() -> None:
    assert uploads_instruction([]) == ""
    document = StoredUpload("upl_x", "upl_x.docx", UploadKind.DOCUMENT, "x", 1, Path("x"))
    assert "Read this file" in uploads_instruction([document])
