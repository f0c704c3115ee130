"""Uploads: files a person gives the AI to build from (the seed's jpg, png, pdf, doc, docx, txt).

The file never passes through the API. :func:`start_upload` checks what the caller declares
and answers a presigned S3 POST whose policy pins the key, the size range and the Content-Type;
the browser or CLI posts the file straight to the artifacts bucket; :func:`complete_upload` then
reads the object and checks its real type by its bytes. A file that fails is deleted with every
version of it, so a rejected upload leaves nothing behind.

The person's filename is kept only as a sanitized display name. The object's name is ours,
``{upload_id}.{ext}``, under ``users/{user_id}/sessions/{session_id}/uploads/{upload_id}/``, so
no filename can steer a key or a path. An accepted upload gets a ``manifest.json`` next to it
(:class:`UploadManifest`): that is how the agent, which has no table access, knows which
objects were checked.
"""

from __future__ import annotations

import contextlib
import io
import re
import secrets
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict

from control_plane import sessions, store
from control_plane.auth import Principal, require_access
from control_plane.errors import (
    Conflict,
    FieldProblem,
    InvalidRequest,
    NotFound,
    SessionNotFound,
    UnsupportedMediaType,
)
from control_plane.observability import logger
from tmux_builder import keys
from tmux_builder.contracts import utc_now_iso
from tmux_builder.settings import cloud

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
PRESIGNED_POST_SECONDS = 600
DISPLAY_NAME_MAX = 120
MANIFEST_VERSION = 1
UPLOAD_ID_RE = re.compile(r"^upl_[0-9a-f]{24}$")
STORED_NAME_RE = re.compile(r"^(upl_[0-9a-f]{24})\.(jpg|png|pdf|doc|docx|txt)$")


class UploadKind(StrEnum):
    IMAGE = "image"
    PDF = "pdf"
    DOCUMENT = "document"
    TEXT = "text"


class UploadStatus(StrEnum):
    PENDING = "pending"
    STORED = "stored"
    REJECTED = "rejected"


class UploadManifest(BaseModel):
    """``.../uploads/{upload_id}/manifest.json``: an upload the control plane checked.

    ``version_id`` (or ``etag`` where the bucket keeps no versions) pins the checked bytes: the
    presigned POST stays valid for a while, and a later post to the same key is never used.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    version: int = MANIFEST_VERSION
    upload_id: str
    stored_name: str
    content_type: str
    kind: UploadKind
    size: int
    display_name: str
    version_id: str | None = None
    etag: str
    stored_at: str


# ------------------------------------------------------------------------ file types


def _is_png(data: bytes) -> bool:
    return data.startswith(b"\x89PNG\r\n\x1a\n")


def _is_jpeg(data: bytes) -> bool:
    return data.startswith(b"\xff\xd8\xff")


def _is_pdf(data: bytes) -> bool:
    return data.startswith(b"%PDF-")


def _is_ole2(data: bytes) -> bool:
    return data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")


def _is_docx(data: bytes) -> bool:
    """A ZIP whose directory names ``word/document.xml`` (the directory only: nothing inflated)."""
    if not data.startswith(b"PK\x03\x04"):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "word/document.xml" in archive.namelist()
    except (zipfile.BadZipFile, ValueError, OSError):
        return False


def _is_utf8_text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@dataclass(frozen=True)
class FileType:
    ext: str
    content_type: str
    kind: UploadKind
    label: str
    matches: Callable[[bytes], bool]


FILE_TYPES: dict[str, FileType] = {
    t.ext: t
    for t in (
        FileType("jpg", "image/jpeg", UploadKind.IMAGE, "a JPEG image", _is_jpeg),
        FileType("png", "image/png", UploadKind.IMAGE, "a PNG image", _is_png),
        FileType("pdf", "application/pdf", UploadKind.PDF, "a PDF", _is_pdf),
        FileType("doc", "application/msword", UploadKind.DOCUMENT, "a Word .doc", _is_ole2),
        FileType(
            "docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            UploadKind.DOCUMENT,
            "a Word .docx",
            _is_docx,
        ),
        FileType("txt", "text/plain", UploadKind.TEXT, "UTF-8 text", _is_utf8_text),
    )
}
_EXT_ALIASES = {"jpeg": "jpg"}


def _describe(data: bytes) -> str:
    """What the bytes really are, for the rejection message."""
    for file_type in FILE_TYPES.values():
        if file_type.matches(data):
            return file_type.label
    return "none of the allowed types"


def file_type_for(filename: str, content_type: str) -> FileType:
    """The allowed type named by the file's extension; the declared type must agree.

    An empty ``content_type`` (browsers send one for types they do not know) means the
    extension's type.
    """
    ext = _extension(_basename(filename))
    file_type = FILE_TYPES.get(_EXT_ALIASES.get(ext, ext))
    if file_type is None:
        allowed = ", ".join(f".{e}" for e in FILE_TYPES)
        raise InvalidRequest(
            f"files of this type cannot be uploaded; allowed: {allowed}",
            [FieldProblem("filename", f"extension must be one of {allowed}")],
        )
    declared = content_type.split(";", 1)[0].strip().lower()
    if declared and declared != file_type.content_type:
        raise InvalidRequest(
            f"content_type {declared!r} does not match a .{file_type.ext} file",
            [FieldProblem("content_type", f"must be {file_type.content_type}")],
        )
    return file_type


# ------------------------------------------------------------------------ filenames


def _basename(filename: str) -> str:
    return re.split(r"[/\\]", filename)[-1]


def _extension(name: str) -> str:
    stem, dot, ext = name.rpartition(".")
    return ext.lower() if dot else ""


def check_filename(filename: str) -> str:
    """Reject control characters (like every text field of the API); return it unchanged."""
    if any(unicodedata.category(ch) == "Cc" for ch in filename):
        raise InvalidRequest(
            "filename must not contain control characters",
            [FieldProblem("filename", "must not contain control characters")],
        )
    return filename


def display_name(filename: str, ext: str) -> str:
    """The filename as people may see it: no folders, no invisible or bidi characters, short.

    Only ever shown in the portal; never part of a key, a path or a prompt.
    """
    name = _basename(unicodedata.normalize("NFC", filename))
    name = "".join(ch for ch in name if not unicodedata.category(ch).startswith("C"))
    name = " ".join(name.split()).strip(" .")
    if len(name) > DISPLAY_NAME_MAX:
        stem, dot, suffix = name.rpartition(".")
        tail = f".{suffix}" if dot and len(suffix) <= 8 else ""
        name = name[: DISPLAY_NAME_MAX - len(tail) - 1].rstrip(" .") + "\u2026" + tail
    return name or f"upload.{ext}"


# ------------------------------------------------------------------------ domain


@dataclass(frozen=True)
class Ticket:
    """Where and how to post the file."""

    upload_id: str
    url: str
    fields: dict[str, str]
    expires_in: int
    max_bytes: int
    stored_name: str


@dataclass(frozen=True)
class Upload:
    """An upload that passed the check."""

    upload_id: str
    session_id: str
    stored_name: str
    content_type: str
    size: int
    display_name: str
    kind: UploadKind
    stored_at: str


def new_upload_id() -> str:
    return f"upl_{secrets.token_hex(12)}"


def session_for(
    principal: Principal, session_id: str, user_id: str | None = None
) -> dict[str, Any]:
    """The session, if the caller may use it: 404 when unknown, 403 when someone else's.

    ``user_id`` is optional; when given it must be the owner's (a client naming another user
    is refused before anything is looked up).
    """
    if user_id is not None:
        require_access(principal, user_id)
    session = sessions.find(session_id)
    owner = user_id or principal.user_id
    if session is None and owner is not None:
        # A session written before owner pointers existed is still found under its user.
        with contextlib.suppress(SessionNotFound):
            session = sessions.get(owner, session_id)
    if session is None or (user_id is not None and session["user_id"] != user_id):
        raise NotFound(f"session {session_id} does not exist")
    require_access(principal, session["user_id"])
    return session


def start_upload(
    principal: Principal,
    *,
    session_id: str,
    filename: str,
    content_type: str,
    size: int,
    user_id: str | None = None,
) -> Ticket:
    """Check the declared file, record a pending upload and presign the POST for it."""
    session = session_for(principal, session_id, user_id)
    if session.get("status") == sessions.SessionStatus.DELETED:
        raise Conflict(f"session {session_id} was deleted; it takes no uploads")
    owner = session["user_id"]
    file_type = file_type_for(check_filename(filename), content_type)
    if not 0 < size <= MAX_UPLOAD_BYTES:
        raise InvalidRequest(
            f"size must be 1..{MAX_UPLOAD_BYTES} bytes",
            [FieldProblem("size", f"must be 1..{MAX_UPLOAD_BYTES}")],
        )
    upload_id = new_upload_id()
    stored_name = f"{upload_id}.{file_type.ext}"
    key = keys.upload_object(owner, session_id, upload_id, stored_name)
    created_at = utc_now_iso()
    store.put_new(
        {
            **keys.upload(upload_id),
            **keys.session_uploads_index(owner, session_id, created_at, upload_id),
            "upload_id": upload_id,
            "user_id": owner,
            "session_id": session_id,
            "object_key": key,
            "stored_name": stored_name,
            "ext": file_type.ext,
            "content_type": file_type.content_type,
            "kind": file_type.kind.value,
            "display_name": display_name(filename, file_type.ext),
            "declared_size": size,
            "status": UploadStatus.PENDING.value,
            "created_at": created_at,
        }
    )
    post = _signing_client().generate_presigned_post(
        Bucket=cloud().artifacts_bucket,
        Key=key,
        Fields={"Content-Type": file_type.content_type},
        Conditions=[
            {"Content-Type": file_type.content_type},
            ["content-length-range", 1, MAX_UPLOAD_BYTES],
        ],
        ExpiresIn=PRESIGNED_POST_SECONDS,
    )
    logger.info("upload started", extra={"user_id": owner, "upload_id": upload_id})
    return Ticket(
        upload_id=upload_id,
        url=post["url"],
        fields=dict(post["fields"]),
        expires_in=PRESIGNED_POST_SECONDS,
        max_bytes=MAX_UPLOAD_BYTES,
        stored_name=stored_name,
    )


def complete_upload(principal: Principal, upload_id: str) -> Upload:
    """Check the posted object by its bytes; keep it (with a manifest) or delete it.

    Idempotent for an accepted upload. A rejected one stays rejected (409 on a retry).
    """
    record = _record(upload_id)
    require_access(principal, record["user_id"])
    if record["status"] == UploadStatus.STORED:
        return _upload(record)
    if record["status"] == UploadStatus.REJECTED:
        raise Conflict(f"this upload was rejected ({record.get('reason', '')}); start a new one")
    found = _read_object(record["object_key"])
    if found is None:
        raise Conflict(
            "no file has been posted for this upload yet",
            [FieldProblem("upload_id", "nothing was posted to the presigned URL")],
        )
    data, head = found
    problem = _problem_with(record, data, head)
    if problem is not None:
        _reject(record, problem)
        raise problem
    return _accept(record, data, head)


def list_uploads(principal: Principal, session_id: str, user_id: str | None = None) -> list[Upload]:
    """The accepted uploads of a session, oldest first."""
    owner = session_for(principal, session_id, user_id)["user_id"]
    items = store.query(keys.session_uploads(owner, session_id), index=keys.GSI1)
    return [_upload(item) for item in items if item.get("status") == UploadStatus.STORED]


# ------------------------------------------------------------------------ helpers


def _record(upload_id: str) -> dict[str, Any]:
    if not UPLOAD_ID_RE.match(upload_id):
        raise InvalidRequest(
            "not an upload id", [FieldProblem("upload_id", "must look like upl_<24 hex>")]
        )
    record = store.get(keys.upload(upload_id))
    if record is None:
        raise NotFound(f"upload {upload_id} does not exist")
    return record


def _upload(record: dict[str, Any]) -> Upload:
    return Upload(
        upload_id=record["upload_id"],
        session_id=record["session_id"],
        stored_name=record["stored_name"],
        content_type=record["content_type"],
        size=int(record["size"]),
        display_name=record["display_name"],
        kind=UploadKind(record["kind"]),
        stored_at=record["stored_at"],
    )


@lru_cache(maxsize=4)
def _signing_client_for(region: str, endpoint: str | None) -> Any:
    # ``endpoint`` only keys the cache: boto3 reads AWS_ENDPOINT_URL itself.
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "s3", region_name=region, config=Config(signature_version="s3v4")
    )


def _signing_client() -> Any:
    """S3 client for presigning: boto3 signs POST policies with deprecated SigV2 by default."""
    import os

    return _signing_client_for(cloud().region, os.environ.get("AWS_ENDPOINT_URL"))


def _s3() -> Any:
    from tmux_builder import aws

    return aws.client("s3")


def _read_object(key: str) -> tuple[bytes, dict[str, Any]] | None:
    """The object's bytes (at most one byte over the limit) and its headers; None if absent."""
    from botocore.exceptions import ClientError

    try:
        found = _s3().get_object(Bucket=cloud().artifacts_bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404", "NotFound"}:
            return None
        raise
    body = found["Body"]
    try:
        length = int(found["ContentLength"])
        data = body.read(MAX_UPLOAD_BYTES + 1) if 0 < length <= MAX_UPLOAD_BYTES else b""
    finally:
        body.close()
    return data, found


def _problem_with(
    record: dict[str, Any], data: bytes, head: dict[str, Any]
) -> InvalidRequest | UnsupportedMediaType | None:
    size = int(head["ContentLength"])
    if size == 0 or size > MAX_UPLOAD_BYTES:
        return InvalidRequest(
            f"the file is {size} bytes; it must be 1..{MAX_UPLOAD_BYTES}",
            [FieldProblem("size", f"must be 1..{MAX_UPLOAD_BYTES} bytes")],
        )
    file_type = FILE_TYPES[record["ext"]]
    stored_type = str(head.get("ContentType", "")).split(";", 1)[0].strip().lower()
    if stored_type != file_type.content_type:
        return UnsupportedMediaType(
            f"the file was posted as {stored_type or 'no type'}, not {file_type.content_type}",
            [FieldProblem("content_type", f"must be {file_type.content_type}")],
        )
    if not file_type.matches(data):
        return UnsupportedMediaType(
            f"the file is not {file_type.label}: its content is {_describe(data)}",
            [FieldProblem("file", f"content is not {file_type.label}")],
        )
    return None


def _reject(record: dict[str, Any], problem: InvalidRequest | UnsupportedMediaType) -> None:
    upload_id = record["upload_id"]
    _delete_everything(keys.upload_folder(record["user_id"], record["session_id"], upload_id))
    # Losing the race means a concurrent completion decided first; the object is gone anyway.
    _settle(upload_id, {"status": UploadStatus.REJECTED.value, "reason": problem.message})
    logger.info(
        "upload rejected",
        extra={"user_id": record["user_id"], "upload_id": upload_id, "reason": problem.message},
    )


def _settle(upload_id: str, fields: dict[str, Any]) -> bool:
    """Move a pending upload to its final state; False if it was no longer pending."""
    try:
        store.update(
            keys.upload(upload_id),
            {**fields, "ended_at": utc_now_iso()},
            condition="#s = :pending",
            names={"#s": "status"},
            values={":pending": UploadStatus.PENDING.value},
        )
    except store.ConditionFailed:
        return False
    return True


def _delete_everything(prefix: str) -> None:
    """Every version and delete marker under ``prefix``: the bucket keeps versions."""
    s3 = _s3()
    bucket = cloud().artifacts_bucket
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
            s3.delete_object(Bucket=bucket, Key=entry["Key"], VersionId=entry["VersionId"])


def _accept(record: dict[str, Any], data: bytes, head: dict[str, Any]) -> Upload:
    stored_at = utc_now_iso()
    manifest = UploadManifest(
        upload_id=record["upload_id"],
        stored_name=record["stored_name"],
        content_type=record["content_type"],
        kind=UploadKind(record["kind"]),
        size=len(data),
        display_name=record["display_name"],
        version_id=head.get("VersionId"),
        etag=str(head.get("ETag", "")),
        stored_at=stored_at,
    )
    # The manifest first: a lost status update is repaired by a retry, a manifest never
    # written would hide an accepted file from the agent.
    _s3().put_object(
        Bucket=cloud().artifacts_bucket,
        Key=keys.upload_manifest(record["user_id"], record["session_id"], record["upload_id"]),
        Body=manifest.model_dump_json().encode(),
        ContentType="application/json",
    )
    stored = {"status": UploadStatus.STORED.value, "size": len(data), "stored_at": stored_at}
    if not _settle(record["upload_id"], stored):
        return _settled(record["upload_id"])
    logger.info(
        "upload stored", extra={"user_id": record["user_id"], "upload_id": record["upload_id"]}
    )
    return _upload({**record, "size": len(data), "stored_at": stored_at})


def _settled(upload_id: str) -> Upload:
    """The answer of a completion that lost a race: whatever the winner decided."""
    record = _record(upload_id)
    if record["status"] != UploadStatus.STORED:
        raise Conflict(f"this upload was rejected ({record.get('reason', '')}); start a new one")
    return _upload(record)
