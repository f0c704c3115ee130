"""Later teardown passes: a pass that could only wait leaves the rest to the teardown queue.

Why a queue: two removals cannot finish in one pass on AWS. A CloudFront distribution must be
disabled and the change deployed (minutes) before it can be deleted, and a security group stays
in use until its instance has finished terminating. Rather than an operator repeating the
delete, the pass queues a :class:`~tmux_builder.contracts.TeardownFollowUp` with a delay (SQS
holds it; nothing runs or polls meanwhile) and the teardown queue's Lambda
(``app.continue_teardown``) runs teardown again for what is left (:func:`run`).

Only waits are retried: a pass with any real error (a resource that is not the user's, access
denied, ...) queues nothing, so that a person looks at it. The chain is bounded: pass
:data:`MAX_ATTEMPTS` is the last, each delay is longer than the one before (up to SQS's 15
minutes, about five and a half hours in all), and what still waits after the last pass is
marked ``delete_failed`` with its reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from control_plane.observability import logger
from tmux_builder import aws
from tmux_builder.contracts import TeardownFollowUp
from tmux_builder.settings import cloud

if TYPE_CHECKING:
    from control_plane.teardown import TeardownReport

# The first, synchronous pass is attempt 1; the last queued pass is this one.
MAX_ATTEMPTS = 30
FIRST_DELAY_SECONDS = 60
# SQS's limit for DelaySeconds.
MAX_DELAY_SECONDS = 900


class FollowUpNotQueued(Exception):
    """The next pass could not be queued (no teardown queue configured, or SQS refused)."""


def delay_for(attempt: int) -> int:
    """Seconds before pass ``attempt`` runs: 60 s before the second, 120 s before the third, ...
    up to 15 minutes.

    Why growing: a distribution is usually disabled within a few minutes but can take far
    longer; a growing delay keeps the common case quick and the bounded chain long.
    """
    return min(MAX_DELAY_SECONDS, FIRST_DELAY_SECONDS * max(1, attempt - 1))


def queue(follow_up: TeardownFollowUp) -> int:
    """Queue ``follow_up`` on the teardown queue; returns its delay in seconds.

    Raises :class:`FollowUpNotQueued` when there is no queue or SQS refused the message.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    queue_url = cloud().teardown_queue_url
    if not queue_url:
        raise FollowUpNotQueued("no teardown queue is configured; run teardown again later")
    delay = delay_for(follow_up.attempt)
    try:
        aws.client("sqs").send_message(
            QueueUrl=queue_url, MessageBody=follow_up.model_dump_json(), DelaySeconds=delay
        )
    except (ClientError, BotoCoreError) as exc:
        raise FollowUpNotQueued(f"the next teardown pass could not be queued: {exc}") from exc
    return delay


def run(body: str) -> TeardownReport | None:
    """One later pass, from the body of a teardown queue message (the Lambda's record handler).

    A user or session that no longer exists has nothing left to remove: the message is dropped
    (None). A malformed body or an error of the table raises, so the message comes back and
    ends in the dead-letter queue after its receive limit.
    """
    from control_plane import teardown
    from control_plane.errors import SessionNotFound, UserNotFound

    follow_up = TeardownFollowUp.model_validate_json(body)
    try:
        if follow_up.session_id is None:
            return teardown.teardown_user(follow_up.user_id, attempt=follow_up.attempt)
        return teardown.teardown_session(
            follow_up.user_id, follow_up.session_id, attempt=follow_up.attempt
        )
    except (SessionNotFound, UserNotFound):
        logger.warning(
            "teardown follow-up for a user or session that no longer exists; dropped",
            extra={"user_id": follow_up.user_id, "session_id": follow_up.session_id},
        )
        return None
