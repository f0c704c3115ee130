"""The agent host's entry point: wire settings, tmux, the engine, the hub and the consumer.

On EC2 this runs as a systemd service; on one machine ``tmux-builder up`` starts it as a child
process with the same environment variables. SIGTERM or SIGINT: stop taking work, let the
tasks in flight finish within ``shutdown_grace_seconds``, hand back the rest (another agent
takes them), exit 0. The tmux sessions stay up so a restarted agent re-adopts them.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from agent import credentials
from agent.artifacts import Artifacts
from agent.chat_consumer import ChatConsumer, PaneCapture, start_chat_consumer
from agent.consumer import Consumer
from agent.edge import Edge
from agent.engine.claude_code import ClaudeCodeEngine
from agent.events import EventPublisher
from agent.notify_hub import NotifyHub
from agent.step_handlers import StepContext, StepHandlers
from agent.task_ledger import TaskLedger
from agent.teardown import UserTeardown
from agent.tmux_sessions import TmuxSessions
from tmux_builder.contracts import ActivityType, AgentTask
from tmux_builder.settings import AgentSettings, CloudSettings

log = logging.getLogger("agent")


class ActivityRelay:
    """Turns what a session reports (by user) into activity of the task it is working on."""

    def __init__(self, events: EventPublisher) -> None:
        self._events = events
        self._current: dict[str, AgentTask] = {}
        self._lock = threading.Lock()

    def working_on(self, task: AgentTask) -> None:
        with self._lock:
            self._current[task.user_id] = task

    def done(self, task: AgentTask) -> None:
        with self._lock:
            if self._current.get(task.user_id) is task:
                del self._current[task.user_id]

    def __call__(self, user_id: str, type_: ActivityType, message: str) -> None:
        with self._lock:
            task = self._current.get(user_id)
        if task is None:
            log.debug("activity from %s with no task in flight: %s", user_id[:12], message)
            return
        self._events.activity(task.execution_id, task.user_id, type_, message, task.step)


def run_agent(settings: AgentSettings | None = None, cloud: CloudSettings | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = settings or AgentSettings()
    cloud = cloud or CloudSettings()
    if not cloud.agent_queue_url or not cloud.artifacts_bucket:
        log.error("TMUX_BUILDER_AGENT_QUEUE_URL and TMUX_BUILDER_ARTIFACTS_BUCKET must be set")
        return 2
    settings.work_dir.mkdir(parents=True, exist_ok=True)

    events = EventPublisher(cloud.events_queue_url)
    relay = ActivityRelay(events)
    hub = NotifyHub(on_activity=relay).start()
    sessions = TmuxSessions(settings.tmux_socket, settings.agent_id)
    engine = ClaudeCodeEngine(settings, sessions, hub)
    panes = PaneCapture(cloud.artifacts_bucket, sessions)
    handlers = StepHandlers(
        StepContext(
            settings=settings,
            cloud=cloud,
            engine=engine,
            events=events,
            artifacts=Artifacts(cloud.artifacts_bucket),
            edge=Edge.from_settings(cloud.edge),
            panes=panes,
        )
    )

    def handle(task: AgentTask) -> Any:
        relay.working_on(task)
        try:
            return handlers.handle(task)
        finally:
            relay.done(task)

    consumer = Consumer(
        cloud.agent_queue_url,
        handle,
        events,
        concurrency=settings.concurrency,
        heartbeat_seconds=settings.heartbeat_seconds,
        visibility_seconds=settings.visibility_seconds,
        handle_command=UserTeardown(settings.work_dir, sessions, credentials.forget_user),
        ledger=TaskLedger(cloud.table, settings.agent_id, settings.visibility_seconds),
        grace_seconds=settings.shutdown_grace_seconds,
    )

    chat: ChatConsumer | None = None

    def shutdown(signum: int, _frame: Any) -> None:
        log.info(
            "signal %s: taking no new work; %d job(s) in flight get %g s to finish",
            signum,
            consumer.in_flight(),
            settings.shutdown_grace_seconds,
        )
        consumer.stop()
        if chat is not None:
            chat.stop()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    adopted = sessions.adopt()
    chat = start_chat_consumer(settings, cloud, engine)  # None without a chat queue
    log.info(
        "agent %s polling %s (task ledger in %s, work dir %s, %d session(s) adopted)",
        settings.agent_id,
        cloud.agent_queue_url,
        cloud.table,
        settings.work_dir,
        len(adopted),
    )
    try:
        consumer.run()
    finally:
        if chat is not None:
            chat.stop()
            chat.join(timeout=settings.shutdown_grace_seconds)
        hub.stop()
    log.info("agent %s stopped", settings.agent_id)
    return 0
