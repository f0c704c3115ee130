"""Taking a session over from a host that died, and keeping work on the host that owns it.

:class:`SessionGate` is asked before any task or chat message of a session runs here. It takes
the session's lease (:mod:`agent.leases`) and answers:

- ``run``: this host owns the session (it may just have taken it over: then the working copy
  was rebuilt first, see :class:`SessionRestorer`);
- ``forward``: another live host owns it (a race with the routing, or a message that came
  through the shared queue); the message goes to that host's own queue, unrun;
- ``later``: nothing can be decided now (the table did not answer), or this host is full and
  the session is new: the message comes back in a few seconds for another host to take
  (at most :data:`SPREAD_RECEIVES` times, then any host takes it).

:class:`SessionRestorer` rebuilds a session's working copy on the host that took it over: the
newest code snapshot in the artifacts bucket (a build's, or the one refreshed after each chat
turn), the requirements and the latest plan, and the stored conversation. The CLI starts
fresh (the old transcript was on the dead host); it is primed by ``prompts/takeover-summary.txt``,
which ``CLAUDE.md`` tells it to read first: what was built, and what was said.

:class:`QueueSweeper` drains the own queues of hosts whose registration expired into the shared
queues (so nothing sent to a dead host is lost), then deletes them.
"""

from __future__ import annotations

import io
import logging
import secrets
import shutil
import tarfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from agent.leases import (
    AtCapacity,
    LeaseHeld,
    LeaseState,
    LeaseUnavailable,
    delete_queue,
)
from agent.workspace import Workspace, atomic_write
from tmux_builder import aws, keys
from tmux_builder.contracts import SiteSpec, utc_now_iso

if TYPE_CHECKING:
    from agent.leases import Acquired, AgentRegistry, SessionLeases

log = logging.getLogger(__name__)

# A new session reaching a full host goes back to the queue at most this many times.
SPREAD_RECEIVES = 2
SPREAD_DELAY_SECONDS = 2
LATER_DELAY_SECONDS = 5
SUMMARY_TASK = "takeover-summary"
_SUMMARY_TURNS = 20
_TURN_CHARS = 600
_SNAPSHOT_SUFFIX = "code.tar.gz"


class Verdict(StrEnum):
    RUN = "run"
    FORWARD = "forward"
    LATER = "later"


@dataclass(frozen=True)
class Admission:
    verdict: Verdict
    queue_url: str = ""
    delay_seconds: int = 0
    reason: str = ""


# --------------------------------------------------------------------------- restoring


@dataclass(frozen=True)
class Restored:
    snapshot_key: str | None
    files: int
    turns: int


class SessionRestorer:
    """Rebuilds a session's working copy from the artifacts bucket and the stored conversation.

    Parameters
    ----------
    work_dir:
        The agent's work directory.
    bucket:
        The artifacts bucket.
    table:
        The one table (the conversation: ``SESSION#{id}`` / ``CHAT#...``, read only).
    engine:
        The engine; a session of this user still running here is stopped (a fresh CLI starts).
    """

    def __init__(self, work_dir: Path, bucket: str, table: str, engine: Any = None) -> None:
        self.work_dir = work_dir
        self.bucket = bucket
        self.table = table
        self.engine = engine

    def restore(
        self, user_id: str, session_id: str, site: SiteSpec | None, previous_owner: str
    ) -> Restored:
        ws = Workspace(self.work_dir, user_id)
        if self.engine is not None:
            self.engine.stop(user_id)
        ws.forget_cli_session()
        if site is not None:
            from agent.session_setup import prepare_workspace

            prepare_workspace(ws, session_id, site)
        else:
            ws.create()
        base = f"users/{user_id}/sessions/{session_id}/"
        objects = self._list(base)
        snapshot = _newest(
            objects,
            lambda key: key.endswith(_SNAPSHOT_SUFFIX) or key.endswith("code-latest.tar.gz"),
        )
        files = self._extract(snapshot, ws.code_dir) if snapshot else 0
        self._copy(base + "requirements.md", ws.dir / "requirements.md")
        plan = _newest(objects, lambda key: key.endswith("/plan.md"))
        if plan:
            self._copy(plan, ws.dir / "plan.md")
        turns = self.conversation(session_id)
        summary = takeover_summary(session_id, previous_owner, snapshot, ws, turns)
        atomic_write(ws.prompt_path(SUMMARY_TASK), summary)
        _point_instructions_at_summary(ws)
        log.warning(
            "session %s rebuilt here from %s (%d files, %d chat turns; was on %s)",
            session_id,
            snapshot or "no snapshot",
            files,
            len(turns),
            previous_owner or "no host",
        )
        return Restored(snapshot, files, len(turns))

    def conversation(self, session_id: str) -> list[dict[str, str]]:
        """The stored chat turns, oldest first: role, text, status."""
        answer = aws.client("dynamodb").query(
            TableName=self.table,
            KeyConditionExpression="#pk = :pk AND begins_with(#sk, :chat)",
            ExpressionAttributeNames={"#pk": keys.PK, "#sk": keys.SK},
            ExpressionAttributeValues={
                ":pk": {"S": keys.chat_partition(session_id)},
                ":chat": {"S": keys.CHAT_PREFIX},
            },
            ConsistentRead=True,
        )
        return [
            {
                "role": item.get("role", {}).get("S", ""),
                "text": item.get("text", {}).get("S", ""),
                "status": item.get("status", {}).get("S", ""),
            }
            for item in answer.get("Items", [])
        ]

    def _list(self, prefix: str) -> list[dict[str, Any]]:
        paginator = aws.client("s3").get_paginator("list_objects_v2")
        found: list[dict[str, Any]] = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            found.extend(page.get("Contents", []))
        return found

    def _copy(self, key: str, target: Path) -> bool:
        from botocore.exceptions import ClientError

        try:
            body = aws.client("s3").get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError:
            return False
        atomic_write(target, body.decode("utf-8", errors="replace"))
        return True

    def _extract(self, key: str, code_dir: Path) -> int:
        body = aws.client("s3").get_object(Bucket=self.bucket, Key=key)["Body"].read()
        shutil.rmtree(code_dir, ignore_errors=True)
        code_dir.mkdir(parents=True, exist_ok=True)
        count = 0
        with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as archive:
            for member in archive.getmembers():
                relative = PurePosixPath(member.name)
                if not member.isfile() or relative.is_absolute() or ".." in relative.parts:
                    continue  # only plain files inside code/ (a snapshot holds nothing else)
                source = archive.extractfile(member)
                if source is None:
                    continue
                target = code_dir / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(source.read())
                count += 1
        return count


def _newest(objects: list[dict[str, Any]], wanted: Any) -> str | None:
    matching = [item for item in objects if wanted(item["Key"])]
    if not matching:
        return None
    return str(max(matching, key=lambda item: item["LastModified"])["Key"])


def takeover_summary(
    session_id: str,
    previous_owner: str,
    snapshot: str | None,
    ws: Workspace,
    turns: list[dict[str, str]],
) -> str:
    """The prompt file that primes the fresh CLI: what was built and what was said."""
    files = sorted(
        str(path.relative_to(ws.dir)) for path in ws.code_dir.rglob("*") if path.is_file()
    )
    listed = "\n".join(f"- `{name}`" for name in files[:60]) or "- (no code yet)"
    said = []
    for turn in turns[-_SUMMARY_TURNS:]:
        text = " ".join(turn["text"].split())[:_TURN_CHARS]
        who = "Person" if turn["role"] == "user" else "You (AI)"
        quoted = f"> {text}" if turn["role"] == "user" else text
        said.append(f"- {who} ({turn['status']}): {quoted}")
    conversation = "\n".join(said) or "- (no chat yet)"
    return (
        "# Takeover summary\n"
        f"Session: {session_id}\n"
        f"Moved at: {utc_now_iso()} (from agent host {previous_owner or 'unknown'})\n\n"
        "This session was moved to a new agent host because its previous host stopped. The "
        "working copy was rebuilt from the last saved snapshot; the earlier CLI conversation "
        "is not available, so this file is what you know about it.\n\n"
        "## What was built\n"
        f"Snapshot: {snapshot or 'none'}\n"
        "Files in `code/`:\n"
        f"{listed}\n\n"
        "`requirements.md` holds what the person asked for; `plan.md` (if present) the plan.\n\n"
        "## What was said in the chat (oldest first)\n"
        f"{conversation}\n\n"
        "## Instructions\n"
        "1. Read this file before your next task; do not redo work that is already in `code/`.\n"
        "2. Carry on with the next task or chat message as usual.\n"
    )


_POINTER_MARK = "<!-- tmux-builder: takeover -->"


def _point_instructions_at_summary(ws: Workspace) -> None:
    """Tell the fresh CLI (through CLAUDE.md, which it loads at start) to read the summary."""
    pointer = (
        f"\n\n{_POINTER_MARK}\n## This session moved to a new host\n"
        f"Read `{ws.prompt_relpath(SUMMARY_TASK)}` first: what was built and said before.\n"
    )
    existing = ws.claude_md_path.read_text(encoding="utf-8") if ws.claude_md_path.exists() else ""
    if _POINTER_MARK not in existing:
        atomic_write(ws.claude_md_path, existing.rstrip() + pointer)


# --------------------------------------------------------------------------- the gate


class SessionGate:
    """Decides where a session's work runs (see the module doc).

    Parameters
    ----------
    leases:
        This host's leases.
    restorer:
        Rebuilds a session taken over from another host.
    max_sessions:
        Above this many leases, a new session is first offered to other hosts (0: no limit).
    """

    def __init__(
        self, leases: SessionLeases, restorer: SessionRestorer, max_sessions: int = 0
    ) -> None:
        self.leases = leases
        self.restorer = restorer
        self.max_sessions = max_sessions
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        # With a session limit, counting and taking a lease happen under one lock, so two
        # messages of new sessions handled at once cannot both squeeze under the limit.
        self._capacity = threading.Lock()

    def _lock(self, session_id: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(session_id, threading.Lock())

    def admit(
        self,
        *,
        session_id: str,
        user_id: str,
        chat: bool,
        site: SiteSpec | None = None,
        from_shared: bool = True,
        receive_count: int = 1,
    ) -> Admission:
        with self._lock(session_id):
            try:
                acquired = self._acquire(session_id, user_id, site, from_shared, receive_count)
            except AtCapacity:
                return Admission(Verdict.LATER, delay_seconds=SPREAD_DELAY_SECONDS, reason="full")
            except LeaseHeld as held:
                target = held.lease.chat_queue_url if chat else held.lease.queue_url
                if not target:
                    return Admission(Verdict.LATER, delay_seconds=LATER_DELAY_SECONDS)
                return Admission(Verdict.FORWARD, queue_url=target, reason=held.lease.owner)
            except LeaseUnavailable:
                log.warning("no lease decision for %s", session_id, exc_info=True)
                return Admission(Verdict.LATER, delay_seconds=LATER_DELAY_SECONDS)
            if self._needs_restore(acquired, user_id, chat):
                lease_site = acquired.lease.site
                try:
                    self.restorer.restore(
                        user_id,
                        session_id,
                        site or (SiteSpec.model_validate(lease_site) if lease_site else None),
                        acquired.previous.owner if acquired.previous else "",
                    )
                except Exception:
                    log.exception("could not rebuild session %s here", session_id)
                    return Admission(Verdict.LATER, delay_seconds=LATER_DELAY_SECONDS)
        return Admission(Verdict.RUN, reason=acquired.state.value)

    def _acquire(
        self,
        session_id: str,
        user_id: str,
        site: SiteSpec | None,
        from_shared: bool,
        receive_count: int,
    ) -> Acquired:
        if self.max_sessions <= 0:
            return self.leases.acquire(session_id, user_id, site)
        with self._capacity:
            full = self.max_sessions <= self.leases.count()
            allow_new = not (from_shared and full and receive_count <= SPREAD_RECEIVES)
            return self.leases.acquire(session_id, user_id, site, allow_new=allow_new)

    def _needs_restore(self, acquired: Acquired, user_id: str, chat: bool) -> bool:
        if acquired.moved_here:
            return True
        present = Workspace(self.restorer.work_dir, user_id).dir.is_dir()
        # Our own lease (a restarted agent) without the folder, or chat for an older session.
        return not present and (acquired.state is not LeaseState.NEW or chat)

    def snapshot_after_chat(self, user_id: str, session_id: str) -> None:
        """Refresh the session's latest-code snapshot (chat changed it): a takeover keeps it."""
        from agent.artifacts import Artifacts

        ws = Workspace(self.restorer.work_dir, user_id)
        if not (ws.code_dir / "index.html").is_file():
            return
        try:
            Artifacts(self.restorer.bucket).upload_tree(
                ws.code_dir, keys.session_code_snapshot(user_id, session_id)
            )
        except Exception:
            log.warning("could not snapshot %s after a chat turn", session_id, exc_info=True)


# --------------------------------------------------------------------------- forwarding


def forward_task(queue_url: str, body: str) -> None:
    aws.client("sqs").send_message(QueueUrl=queue_url, MessageBody=body)


def forward_chat(queue_url: str, body: str, session_id: str, message_id: str) -> None:
    # A fresh deduplication id: the original id may still be in the target queue's window.
    aws.client("sqs").send_message(
        QueueUrl=queue_url,
        MessageBody=body,
        MessageGroupId=session_id,
        MessageDeduplicationId=f"{message_id[:100]}.{secrets.token_hex(6)}",
    )


@dataclass(frozen=True)
class MessageActions:
    """What a consumer does with one received message, for :func:`settle_admission`.

    ``forward(queue_url)`` sends it to the owner's queue, ``forwarded()`` removes it here once
    it was sent, ``later(seconds)`` makes it visible again. ``what`` names it in the log.
    """

    what: str
    forward: Callable[[str], None]
    forwarded: Callable[[], None]
    later: Callable[[int], None]
    retry_seconds: int


def settle_admission(admission: Admission, own_queue_url: str, actions: MessageActions) -> bool:
    """Carry out the gate's verdict on a message: True when it runs here.

    Otherwise it went to its session's owner (a failed send brings it back later) or comes
    back after the admission's delay. Task and chat consumers share this; only the actions
    differ (a task's ledger job vs a raw chat message).
    """
    if admission.verdict is Verdict.RUN:
        return True
    if admission.verdict is Verdict.FORWARD and admission.queue_url != own_queue_url:
        try:
            actions.forward(admission.queue_url)
        except Exception:
            log.exception("could not forward %s to its owner; it comes back", actions.what)
            actions.later(actions.retry_seconds)
            return False
        log.info("%s belongs to %s: forwarded to its queue", actions.what, admission.reason)
        actions.forwarded()
        return False
    log.info("%s waits %d s (%s)", actions.what, admission.delay_seconds, admission.reason)
    actions.later(admission.delay_seconds or actions.retry_seconds)
    return False


# --------------------------------------------------------------------------- dead hosts' queues


class QueueSweeper:
    """Moves what waits in a dead host's own queues to the shared queues, then deletes them."""

    def __init__(
        self,
        registry: AgentRegistry,
        shared_queue_url: str,
        shared_chat_queue_url: str,
        grace_seconds: float = 2.0,
    ) -> None:
        self.registry = registry
        self.shared_queue_url = shared_queue_url
        self.shared_chat_queue_url = shared_chat_queue_url
        self.grace_seconds = grace_seconds

    def sweep(self) -> int:
        """One pass; returns how many messages were moved."""
        moved = 0
        for dead in self.registry.expired(self.grace_seconds):
            left = 0
            for url, chat in ((dead.queue_url, False), (dead.chat_queue_url, True)):
                if url:
                    count, remaining = self.move_all(url, chat)
                    moved += count
                    left += remaining
            if left == 0 and self.registry.remove(dead):
                delete_queue(dead.queue_url) if dead.queue_url else None
                delete_queue(dead.chat_queue_url) if dead.chat_queue_url else None
                log.warning("host %s is gone: its queues were drained and deleted", dead.agent_id)
        return moved

    def move_all(self, url: str, chat: bool) -> tuple[int, int]:
        """(moved, still there): in-flight messages of the dead host come back later."""
        from botocore.exceptions import ClientError

        sqs = aws.client("sqs")
        moved = 0
        try:
            while True:
                answer = sqs.receive_message(
                    QueueUrl=url,
                    MaxNumberOfMessages=10,
                    WaitTimeSeconds=0,
                    VisibilityTimeout=30,
                    MessageSystemAttributeNames=["MessageGroupId"],
                )
                messages = answer.get("Messages", [])
                if not messages:
                    break
                for message in messages:
                    self._move(message, chat)
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                    moved += 1
            attributes = sqs.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                ],
            )["Attributes"]
        except ClientError as error:
            if "NonExistentQueue" in str(error) or "QueueDoesNotExist" in str(error):
                return moved, 0
            raise
        if moved:
            log.warning("moved %d message(s) from %s to the shared queue", moved, url)
        remaining = sum(int(v) for v in attributes.values())
        return moved, remaining

    def _move(self, message: dict[str, Any], chat: bool) -> None:
        body = message["Body"]
        if not chat:
            forward_task(self.shared_queue_url, body)
            return
        from tmux_builder.contracts import ChatMessage

        group = message.get("Attributes", {}).get("MessageGroupId", "")
        try:
            parsed = ChatMessage.model_validate_json(body)
            forward_chat(self.shared_chat_queue_url, body, parsed.session_id, parsed.message_id)
        except ValueError:
            forward_chat(self.shared_chat_queue_url, body, group or "unknown", message["MessageId"])
