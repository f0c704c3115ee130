"""Teardown: remove every cloud resource recorded for a session or a user, and mark the records.

Why it works from the records: every resource the system creates is recorded
(``RESOURCE#{type}#{id}``) before or when it exists, so the records are the list of what to
remove; nothing is found by guessing names. The records come partly from the agent, so before
anything is deleted it is checked to be the user's (named ``tmux-{prefix}-*`` or tagged with
the user's id): a wrong record can never make the operator delete someone else's resource.

Teardown runs with the control plane's own credentials (the operator side). It is idempotent:
removed resources are marked ``deleted`` and skipped next time, resources already gone count as
removed, and a resource that could not be removed stays in the report. Nothing is silently
dropped.

Some removals can only wait: a CloudFront distribution being disabled (and its origin access
control, in use until the distribution is gone), a security group whose instance is still
shutting down (:class:`Waiting`). When those are all that is left, the pass
queues the next one (:mod:`control_plane.teardown_followup`) and marks them, and the session or
user, ``deleting``: teardown finishes by itself. Anything else that failed is marked
``delete_failed`` with its reason and is not retried automatically: running teardown again
(after a person looked) finishes the job.

The user's tmux session and folders are on whichever agent host holds the user's sessions, so
the agent command goes to every live host's own queue (each acts on what it has).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from control_plane import iam_identity, sessions, store, teardown_followup, tracking, users
from control_plane.observability import logger
from tmux_builder import aws, azure, keys, naming
from tmux_builder.contracts import AgentCommand, TeardownFollowUp, utc_now_iso
from tmux_builder.settings import AzureSettings, cloud

RESOURCE_BUCKET = "s3_bucket"
RESOURCE_DISTRIBUTION = "cloudfront_distribution"
RESOURCE_ORIGIN_ACCESS_CONTROL = "cloudfront_oac"
# A dynamic site's (agent/deploy/aws_dynamic.py).
RESOURCE_INSTANCE = "ec2_instance"
RESOURCE_SECURITY_GROUP = "ec2_security_group"
RESOURCE_INSTANCE_PROFILE = "iam_instance_profile"
RESOURCE_INSTANCE_ROLE = "iam_instance_role"
DELETED = "deleted"
DELETE_FAILED = "delete_failed"
# Only waiting for AWS to finish a change; a queued later pass removes it.
DELETING = "deleting"
_DELETE_BATCH = 1000
# A distribution must be disabled (and the change deployed) before it can be deleted.
# An instance goes before its security group and profile (both are in use until it is gone),
# a profile before its role.
_REMOVAL_ORDER = (
    RESOURCE_INSTANCE,
    RESOURCE_SECURITY_GROUP,
    RESOURCE_INSTANCE_PROFILE,
    RESOURCE_INSTANCE_ROLE,
    RESOURCE_DISTRIBUTION,
    RESOURCE_ORIGIN_ACCESS_CONTROL,
    RESOURCE_BUCKET,
)


@dataclass
class TeardownReport:
    """What a teardown pass removed, and what it could not remove (type, id, reason).

    ``waiting`` are the failures that only wait for AWS (each is in ``failed`` too);
    ``follow_up`` is the later pass queued for them, None when none was queued.
    """

    removed: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str, str]] = field(default_factory=list)
    waiting: list[tuple[str, str, str]] = field(default_factory=list)
    follow_up: TeardownFollowUp | None = None

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def only_waiting(self) -> bool:
        """Something is left, and all of it only waits for AWS to finish a change."""
        return bool(self.failed) and len(self.waiting) == len(self.failed)

    def extend(self, other: TeardownReport) -> None:
        self.removed.extend(other.removed)
        self.failed.extend(other.failed)
        self.waiting.extend(other.waiting)


class NotRemoved(Exception):
    """A resource teardown did not remove; the message is the reason in the report."""


class NotOwned(NotRemoved):
    """The recorded resource is not the user's (name or tags say otherwise); left alone."""


class Waiting(NotRemoved):
    """Not removed yet only because AWS has not finished a change; a later pass removes it."""


class StillDisabling(Waiting):
    """A distribution was disabled but the change is not deployed yet."""


class StillInUse(Waiting):
    """A security group whose instance is still shutting down."""


class StillAttached(Waiting):
    """An origin access control still used by a distribution that is being disabled."""


# --- entry points --------------------------------------------------------------------------------


def teardown_session(
    user_id: str, session_id: str, *, distribution_wait_seconds: float = 0.0, attempt: int = 1
) -> TeardownReport:
    """Remove one site: its resources; its tmux session and folder if it was the user's last.

    ``attempt`` > 1 is a later pass (:mod:`control_plane.teardown_followup`): the agent was
    told by the first. Raises :class:`control_plane.errors.SessionNotFound` for an unknown
    session.
    """
    naming.user_prefix(user_id)
    sessions.get(user_id, session_id)
    report = _stop_running_builds(user_id, {session_id})
    records = [r for r in _active_resources(user_id) if r["session_id"] == session_id]
    report.extend(_remove_resources(user_id, records, distribution_wait_seconds))
    _end_lease(session_id)
    if attempt == 1 and not [s for s in _live_sessions(user_id) if s != session_id]:
        report.extend(_tell_agent(user_id))
    follow_up = TeardownFollowUp(user_id=user_id, session_id=session_id, attempt=attempt)
    _mark(keys.session(user_id, session_id), _settle(report, follow_up))
    _log(report, user_id, session_id)
    return report


def teardown_user(
    user_id: str, *, distribution_wait_seconds: float = 0.0, attempt: int = 1
) -> TeardownReport:
    """Remove everything of the user: every site, the IAM identity, the tmux session and folder.

    ``attempt`` as for :func:`teardown_session`. Raises
    :class:`control_plane.errors.UserNotFound` for an unknown user.
    """
    naming.user_prefix(user_id)
    users.get(user_id)
    session_ids = {item["session_id"] for item in _sessions_of(user_id)}
    report = _stop_running_builds(user_id, session_ids)
    active = _active_resources(user_id)
    of_session: dict[str, TeardownReport] = {}
    for session_id in sorted(session_ids):
        records = [r for r in active if r["session_id"] == session_id]
        of_session[session_id] = _remove_resources(user_id, records, distribution_wait_seconds)
        report.extend(of_session[session_id])
    # Resources of sessions that have no record (or none at all) still belong to the user.
    strays = [
        r
        for r in active
        if r["session_id"] not in session_ids and r["resource_type"] != iam_identity.RESOURCE_TYPE
    ]
    report.extend(_remove_resources(user_id, strays, distribution_wait_seconds))
    report.extend(_remove_identity(user_id))
    for session_id in session_ids:
        _end_lease(session_id)
    if attempt == 1:
        report.extend(_tell_agent(user_id))
    status = _settle(report, TeardownFollowUp(user_id=user_id, attempt=attempt))
    for session_id, removal in of_session.items():
        _mark(keys.session(user_id, session_id), DELETED if removal.ok else status)
    _mark(keys.user(user_id), status)
    _log(report, user_id)
    return report


# --- sessions and records -----------------------------------------------------------------------


def _sessions_of(user_id: str) -> list[dict[str, Any]]:
    pk, prefix = keys.sessions_of(user_id)
    return list(store.query(pk, sk_prefix=prefix))


def _live_sessions(user_id: str) -> list[str]:
    """Sessions not being deleted (a completed site is still live: it can be restored)."""
    gone = {DELETED, DELETE_FAILED, DELETING}
    return [s["session_id"] for s in _sessions_of(user_id) if s.get("status") not in gone]


def _end_lease(session_id: str) -> None:
    """Nothing more is routed to the host that held the deleted session; the host notices at
    its next renewal (the conditional renew finds no lease) and forgets it."""
    store.delete(keys.session_lease(session_id))


def _active_resources(user_id: str) -> list[dict[str, Any]]:
    return [r for r in tracking.resources_of(user_id) if r.get("status") != DELETED]


def _settle(report: TeardownReport, follow_up: TeardownFollowUp) -> str:
    """The session's or user's status after this pass; queues the next pass if only waits are
    left.

    Waiting records stay ``deleting`` only while a later pass is queued for them: when none is
    (a real error next to them, no queue, or the last attempt) nothing but a person would
    finish them, so they become ``delete_failed`` with their reason.
    """
    if report.ok:
        return DELETED
    if report.only_waiting and follow_up.attempt < teardown_followup.MAX_ATTEMPTS:
        following = follow_up.model_copy(update={"attempt": follow_up.attempt + 1})
        try:
            delay = teardown_followup.queue(following)
        except teardown_followup.FollowUpNotQueued as exc:
            report.failed.append(("teardown_followup", follow_up.user_id, str(exc)))
        else:
            report.follow_up = following
            logger.info(
                "teardown waits; the next pass is queued",
                extra={**_ids(follow_up), "attempt": following.attempt, "delay_seconds": delay},
            )
            return DELETING
    elif report.only_waiting:
        logger.error(
            "teardown gave up waiting: still not removed after the last attempt",
            extra={**_ids(follow_up), "attempt": follow_up.attempt, "waiting": _lines(report)},
        )
    for kind, resource_id, reason in report.waiting:
        _mark(
            keys.resource(follow_up.user_id, kind, resource_id),
            DELETE_FAILED,
            delete_error=reason[:1000],
        )
    return DELETE_FAILED


def _mark(key: dict[str, str], status: str, **fields: Any) -> None:
    stamp = {"deleted_at": utc_now_iso()} if status == DELETED else {}
    store.update(
        key,
        {"status": status, **stamp, **fields},
        condition="attribute_exists(#pk)",
        names={"#pk": keys.PK},
    )


def _stop_running_builds(user_id: str, session_ids: set[str]) -> TeardownReport:
    """Stop the session's running executions first, so no step re-creates what is removed."""
    from botocore.exceptions import BotoCoreError, ClientError

    report = TeardownReport()
    pk, prefix = keys.executions_of(user_id)
    arn_base = cloud().state_machine_arn.replace(":stateMachine:", ":execution:")
    for execution in store.query(pk, sk_prefix=prefix, index=keys.GSI1):
        if execution.get("session_id") not in session_ids or execution.get("status") != "running":
            continue
        execution_id = execution["execution_id"]
        try:
            aws.client("stepfunctions").stop_execution(
                executionArn=f"{arn_base}:{execution_id}",
                error="SiteDeleted",
                cause="the site was deleted",
            )
        except ClientError as exc:
            if _code(exc) != "ExecutionDoesNotExist":
                report.failed.append(("execution", execution_id, _describe(exc)))
        except BotoCoreError as exc:
            report.failed.append(("execution", execution_id, str(exc)))
    return report


# --- resources -----------------------------------------------------------------------------------


def _removal_rank(record: dict[str, Any]) -> int:
    kind = record["resource_type"]
    return _REMOVAL_ORDER.index(kind) if kind in _REMOVAL_ORDER else len(_REMOVAL_ORDER)


def _remove_resources(
    user_id: str, records: Iterable[dict[str, Any]], wait_seconds: float
) -> TeardownReport:
    from botocore.exceptions import BotoCoreError, ClientError

    report = TeardownReport()
    for record in sorted(records, key=_removal_rank):
        kind, resource_id = record["resource_type"], record["resource_id"]
        key = keys.resource(user_id, kind, resource_id)
        remover = _REMOVERS.get(kind)
        if remover is None:
            reason = f"teardown cannot remove resources of type {kind!r} yet"
            report.failed.append((kind, resource_id, reason))
            _mark(key, DELETE_FAILED, delete_error=reason)
            continue
        try:
            remover(user_id, resource_id, record.get("metadata") or {}, wait_seconds)
        except Waiting as exc:
            report.failed.append((kind, resource_id, str(exc)))
            report.waiting.append((kind, resource_id, str(exc)))
            _mark(key, DELETING, delete_error=str(exc)[:1000])
            continue
        except NotRemoved as exc:
            reason = str(exc)
        except ClientError as exc:
            reason = _describe(exc)
        except BotoCoreError as exc:
            reason = str(exc)
        else:
            report.removed.append((kind, resource_id))
            _mark(key, DELETED)
            continue
        report.failed.append((kind, resource_id, reason))
        _mark(key, DELETE_FAILED, delete_error=reason[:1000])
    return report


def _remove_identity(user_id: str) -> TeardownReport:
    from botocore.exceptions import BotoCoreError, ClientError

    report = TeardownReport()
    name = iam_identity.role_name(user_id)
    try:
        deleted = iam_identity.delete_identity(user_id)
    except iam_identity.IdentityConflict as exc:
        report.failed.append((iam_identity.RESOURCE_TYPE, name, str(exc)))
    except ClientError as exc:
        report.failed.append((iam_identity.RESOURCE_TYPE, name, _describe(exc)))
    except BotoCoreError as exc:
        report.failed.append((iam_identity.RESOURCE_TYPE, name, str(exc)))
    else:
        if deleted:
            report.removed.append((iam_identity.RESOURCE_TYPE, name))
    status = DELETED if report.ok else DELETE_FAILED
    for record in _active_resources(user_id):
        if record["resource_type"] == iam_identity.RESOURCE_TYPE:
            _mark(keys.resource(user_id, record["resource_type"], record["resource_id"]), status)
    return report


def _remove_bucket(user_id: str, bucket: str, metadata: dict[str, str], _wait: float) -> None:
    """Every object version and delete marker, then the bucket; a missing bucket is fine."""
    _require_user_name(user_id, bucket)
    s3 = aws.client("s3", metadata.get("region") or None)
    if not _bucket_is_users(s3, bucket, user_id):
        return
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        entries = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for v in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
        ]
        for start in range(0, len(entries), _DELETE_BATCH):
            answer = s3.delete_objects(
                Bucket=bucket,
                Delete={"Objects": entries[start : start + _DELETE_BATCH], "Quiet": True},
            )
            if answer.get("Errors"):
                first = answer["Errors"][0]
                raise NotRemoved(f"cannot empty {bucket}: {first.get('Key')}: {first.get('Code')}")
    s3.delete_bucket(Bucket=bucket)


def _bucket_is_users(s3: Any, bucket: str, user_id: str) -> bool:
    """False when the bucket is gone; :class:`NotOwned` when tagged for someone else."""
    from botocore.exceptions import ClientError

    try:
        tag_set = s3.get_bucket_tagging(Bucket=bucket)["TagSet"]
    except ClientError as exc:
        if _code(exc) == "NoSuchBucket":
            return False
        if _code(exc) == "NoSuchTagSet":  # a deploy that died before tagging: the name decides
            return True
        raise
    owner = {t["Key"]: t["Value"] for t in tag_set}.get("UserGUID")
    if owner is not None and owner != user_id:
        raise NotOwned(f"bucket {bucket} is tagged for another user; left alone")
    return True


def _remove_distribution(
    user_id: str, distribution_id: str, _metadata: dict[str, str], wait_seconds: float
) -> None:
    """Disable, wait for the change to be deployed, delete with the current ETag."""
    from botocore.exceptions import ClientError

    cloudfront = aws.client("cloudfront")
    try:
        found = cloudfront.get_distribution(Id=distribution_id)
    except ClientError as exc:
        if _code(exc) == "NoSuchDistribution":
            return
        raise
    distribution = found["Distribution"]
    tags = cloudfront.list_tags_for_resource(Resource=distribution["ARN"])["Tags"]
    owner = {t["Key"]: t["Value"] for t in tags.get("Items", [])}.get("UserGUID")
    if owner != user_id:
        raise NotOwned(f"distribution {distribution_id} is not tagged for this user; left alone")
    etag = found["ETag"]
    config = distribution["DistributionConfig"]
    if config.get("Enabled"):
        updated = cloudfront.update_distribution(
            Id=distribution_id, IfMatch=etag, DistributionConfig={**config, "Enabled": False}
        )
        etag, distribution = updated["ETag"], updated["Distribution"]
    if distribution.get("Status") != "Deployed":
        etag = _wait_deployed(cloudfront, distribution_id, wait_seconds)
    cloudfront.delete_distribution(Id=distribution_id, IfMatch=etag)


def _wait_deployed(cloudfront: Any, distribution_id: str, wait_seconds: float) -> str:
    """The ETag once the distribution is Deployed; :class:`StillDisabling` after the wait."""
    deadline = time.monotonic() + wait_seconds
    while True:
        found = cloudfront.get_distribution(Id=distribution_id)
        if found["Distribution"].get("Status") == "Deployed":
            return str(found["ETag"])
        if time.monotonic() >= deadline:
            raise StillDisabling(
                f"distribution {distribution_id} is being disabled; a later pass deletes it"
            )
        time.sleep(min(15.0, max(deadline - time.monotonic(), 0.0)))


def _remove_origin_access_control(
    user_id: str, control_id: str, _metadata: dict[str, str], _wait: float
) -> None:
    from botocore.exceptions import ClientError

    cloudfront = aws.client("cloudfront")
    try:
        found = cloudfront.get_origin_access_control(Id=control_id)
    except ClientError as exc:
        if _code(exc) == "NoSuchOriginAccessControl":
            return
        raise
    name = found["OriginAccessControl"]["OriginAccessControlConfig"]["Name"]
    _require_user_name(user_id, name)
    try:
        cloudfront.delete_origin_access_control(Id=control_id, IfMatch=found.get("ETag", ""))
    except ClientError as exc:
        if _code(exc) == "OriginAccessControlInUse":
            raise StillAttached(
                f"origin access control {control_id} is still used by a distribution being "
                "disabled; a later pass deletes it"
            ) from exc
        raise


def _remove_instance(
    user_id: str, instance_id: str, metadata: dict[str, str], wait_seconds: float
) -> None:
    """Terminate the user's instance (tag-checked), waiting up to ``wait_seconds`` for it."""
    ec2 = aws.client("ec2", metadata.get("region") or None)
    instance = _instance(ec2, instance_id)
    if instance is None or instance["State"]["Name"] == "terminated":
        return
    owner = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}.get("UserGUID")
    if owner != user_id:
        raise NotOwned(f"instance {instance_id} is not tagged for this user; left alone")
    ec2.terminate_instances(InstanceIds=[instance_id])
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        found = _instance(ec2, instance_id)
        if found is None or found["State"]["Name"] == "terminated":
            return
        time.sleep(min(5.0, max(deadline - time.monotonic(), 0.0)))


def _instance(ec2: Any, instance_id: str) -> dict[str, Any] | None:
    from botocore.exceptions import ClientError

    try:
        reservations = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    except ClientError as exc:
        if _code(exc).startswith("InvalidInstanceID"):
            return None
        raise
    instances = [i for r in reservations for i in r["Instances"]]
    return dict(instances[0]) if instances else None


def _remove_security_group(
    user_id: str, group_id: str, metadata: dict[str, str], _wait: float
) -> None:
    from botocore.exceptions import ClientError

    ec2 = aws.client("ec2", metadata.get("region") or None)
    try:
        group = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
    except ClientError as exc:
        if _code(exc).startswith("InvalidGroup"):
            return
        raise
    _require_user_name(user_id, group["GroupName"])
    _require_user_tag(user_id, f"security group {group_id}", group.get("Tags", []))
    try:
        ec2.delete_security_group(GroupId=group_id)
    except ClientError as exc:
        if _code(exc) == "DependencyViolation":
            raise StillInUse(
                f"security group {group_id} is still in use (its instance is shutting down); "
                "a later pass deletes it"
            ) from exc
        raise


def _remove_instance_profile(
    user_id: str, name: str, _metadata: dict[str, str], _wait: float
) -> None:
    from botocore.exceptions import ClientError

    _require_user_name(user_id, name)
    iam = aws.client("iam")
    try:
        profile = iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]
    except ClientError as exc:
        if _code(exc) == "NoSuchEntity":
            return
        raise
    _require_user_tag(user_id, f"instance profile {name}", profile.get("Tags", []))
    for role in profile.get("Roles", []):
        iam.remove_role_from_instance_profile(InstanceProfileName=name, RoleName=role["RoleName"])
    iam.delete_instance_profile(InstanceProfileName=name)


def _remove_instance_role(user_id: str, name: str, _metadata: dict[str, str], _wait: float) -> None:
    from botocore.exceptions import ClientError

    _require_user_name(user_id, name)
    iam = aws.client("iam")
    try:
        role = iam.get_role(RoleName=name)["Role"]
    except ClientError as exc:
        if _code(exc) == "NoSuchEntity":
            return
        raise
    _require_user_tag(user_id, f"role {name}", role.get("Tags", []))
    for page in iam.get_paginator("list_instance_profiles_for_role").paginate(RoleName=name):
        for profile in page["InstanceProfiles"]:
            iam.remove_role_from_instance_profile(
                InstanceProfileName=profile["InstanceProfileName"], RoleName=name
            )
    for page in iam.get_paginator("list_role_policies").paginate(RoleName=name):
        for policy in page["PolicyNames"]:
            iam.delete_role_policy(RoleName=name, PolicyName=policy)
    for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=name):
        for attached in page["AttachedPolicies"]:
            iam.detach_role_policy(RoleName=name, PolicyArn=attached["PolicyArn"])
    iam.delete_role(RoleName=name)


def _require_user_tag(user_id: str, what: str, tags: list[dict[str, str]]) -> None:
    """An untagged resource of the user's name is theirs (a create that died before tagging)."""
    owner = {t["Key"]: t["Value"] for t in tags}.get("UserGUID")
    if owner is not None and owner != user_id:
        raise NotOwned(f"{what} is tagged for another user; left alone")


def _remove_azure_resource_group(
    user_id: str, name: str, _metadata: dict[str, str], _wait: float
) -> None:
    """The site's whole resource group (everything of an Azure site is inside it)."""
    from tmux_builder import azure_teardown

    _remove_on_azure(user_id, name, azure_teardown.remove_resource_group)


def _remove_azure_blob_container(
    user_id: str, container: str, _metadata: dict[str, str], _wait: float
) -> None:
    """An azure/static site on the embedded stack: its Azurite container."""
    from tmux_builder import azure_teardown

    _remove_on_azure(user_id, container, azure_teardown.remove_blob_container)


def _remove_on_azure(
    user_id: str, name: str, remove: Callable[[AzureSettings, str, str], object]
) -> None:
    """``remove(settings, name, user_id)`` with Azure's refusals turned into report reasons."""
    from tmux_builder import azure_teardown

    _require_user_name(user_id, name)
    try:
        remove(AzureSettings(), name, user_id)
    except azure_teardown.AzureNotOwned as exc:
        raise NotOwned(str(exc)) from exc
    except (azure_teardown.AzureRemovalError, azure.AzureConfigError) as exc:
        raise NotRemoved(str(exc)) from exc


def _require_user_name(user_id: str, name: str) -> None:
    if not name.startswith(f"tmux-{naming.user_prefix(user_id)}-"):
        raise NotOwned(f"{name} is not named for this user; left alone")


_Remover = Callable[[str, str, dict[str, str], float], None]
_REMOVERS: dict[str, _Remover] = {
    RESOURCE_BUCKET: _remove_bucket,
    RESOURCE_DISTRIBUTION: _remove_distribution,
    RESOURCE_ORIGIN_ACCESS_CONTROL: _remove_origin_access_control,
    RESOURCE_INSTANCE: _remove_instance,
    RESOURCE_SECURITY_GROUP: _remove_security_group,
    RESOURCE_INSTANCE_PROFILE: _remove_instance_profile,
    RESOURCE_INSTANCE_ROLE: _remove_instance_role,
    azure.RESOURCE_GROUP: _remove_azure_resource_group,
    azure.BLOB_CONTAINER: _remove_azure_blob_container,
}


# --- the agent -----------------------------------------------------------------------------------


def _tell_agent(user_id: str) -> TeardownReport:
    """Ask the agent hosts to kill the user's tmux session and remove their folders.

    Why every live host, on its own queue: the user's session and folders are on the host that
    holds the user's session leases, and any host may take a message of the shared queue. Each
    host acts on what it has (the command is idempotent) and releases its leases on the user's
    sessions. With no live host registered (or none whose queue still exists), the shared
    queue: the next agent to start takes it.
    """
    from control_plane import routing

    report = TeardownReport()
    body = AgentCommand(user_id=user_id).model_dump_json()
    hosts = [host for host in routing.agent_hosts() if host.live() and host.queue_url]
    reached = 0
    for host in hosts:
        failure = _send_command(host.queue_url, body)
        if failure is None:
            reached += 1
        elif failure != _QUEUE_GONE:
            report.failed.append(("agent_command", user_id, f"agent {host.agent_id}: {failure}"))
    if reached or report.failed:
        return report
    shared = cloud().agent_queue_url
    if not shared:
        report.failed.append(("agent_command", user_id, "no agent queue is configured"))
        return report
    failure = _send_command(shared, body)
    if failure is not None:
        report.failed.append(("agent_command", user_id, failure))
    return report


_QUEUE_GONE = "the queue no longer exists"


def _send_command(queue_url: str, body: str) -> str | None:
    """None when sent; else why not (:data:`_QUEUE_GONE`: the host left since it registered)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        aws.client("sqs").send_message(QueueUrl=queue_url, MessageBody=body)
    except ClientError as exc:
        if _code(exc) in {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}:
            return _QUEUE_GONE
        return _describe(exc)
    except BotoCoreError as exc:
        return str(exc)
    return None


# --- helpers -------------------------------------------------------------------------------------


def _code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def _describe(exc: Exception) -> str:
    error = getattr(exc, "response", {}).get("Error", {})
    return f"{error.get('Code', 'Unknown')}: {error.get('Message', '')}".rstrip(": ")


def _ids(follow_up: TeardownFollowUp) -> dict[str, str | None]:
    return {"user_id": follow_up.user_id, "session_id": follow_up.session_id}


def _lines(report: TeardownReport) -> list[str]:
    return [f"{kind} {rid}: {reason}" for kind, rid, reason in report.failed]


def _log(report: TeardownReport, user_id: str, session_id: str | None = None) -> None:
    if report.ok:
        message = "teardown finished"
    elif report.follow_up is not None:
        message = "teardown continues in a later pass"
    else:
        message = "teardown incomplete"
    logger.info(
        message,
        extra={
            "user_id": user_id,
            "session_id": session_id,
            "removed": len(report.removed),
            "failed": _lines(report),
        },
    )
