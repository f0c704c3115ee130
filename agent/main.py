"""The agent host's entry point: wire settings, tmux, the engine, the hub and the consumer.

On EC2 this runs as a systemd service; on one machine ``tmux-builder up`` starts it as a child
process with the same environment variables. SIGTERM or SIGINT: stop taking work, let the
tasks in flight finish within ``shutdown_grace_seconds``, hand back the rest (another agent
takes them), exit 0. The tmux sessions stay up so a restarted agent re-adopts them.

Many hosts (:mod:`agent.leases`, :mod:`agent.takeover`): at start the agent creates its own
task and chat queues and registers them; it polls the shared queues (new sessions, and work of
sessions whose host died) and its own (the sessions it owns), renews its leases, and drains the
queues of hosts that died. A clean shutdown releases its leases, moves what is left in its own
queues to the shared ones, deletes them and deregisters.
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
from agent.host_metrics import HostMetrics
from agent.leases import AgentQueues, AgentRegistry, LeaseKeeper, SessionLeases
from agent.notify_hub import NotifyHub
from agent.pane_user import pane_user_from_setting
from agent.step_handlers import StepContext, StepHandlers
from agent.takeover import QueueSweeper, SessionGate, SessionRestorer
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


# Loggers held at WARNING in the agent's log. azure-core's HTTP logging policy writes every SDK
# request (URL, headers) at INFO: a deploy of a site is one such block per file uploaded, which
# buries the agent's own lines. Their warnings and errors still come through.
QUIET_LOGGERS = ("azure", "azure.core.pipeline.policies.http_logging_policy")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging() -> None:
    """The agent's log: its own INFO lines, and only warnings from the SDKs it drives."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def run_agent(settings: AgentSettings | None = None, cloud: CloudSettings | None = None) -> int:
    configure_logging()
    settings = settings or AgentSettings()
    cloud = cloud or CloudSettings()
    if not cloud.agent_queue_url or not cloud.artifacts_bucket:
        log.error("TMUX_BUILDER_AGENT_QUEUE_URL and TMUX_BUILDER_ARTIFACTS_BUCKET must be set")
        return 2
    settings.work_dir.mkdir(parents=True, exist_ok=True)

    events = EventPublisher(cloud.events_queue_url)
    relay = ActivityRelay(events)
    hub = NotifyHub(on_activity=relay).start()
    pane_user = pane_user_from_setting(settings.pane_user)  # PaneUserError: misconfigured
    sessions = TmuxSessions(settings.tmux_socket, settings.agent_id, pane_user=pane_user)
    engine = ClaudeCodeEngine(settings, sessions, hub)
    panes = PaneCapture(cloud.artifacts_bucket, sessions)
    handlers = StepHandlers(
        StepContext(
            settings=settings,
            cloud=cloud,
            engine=engine,
            events=events,
            artifacts=Artifacts(cloud.artifacts_bucket),
            edge=Edge.from_settings(settings.edge),
            panes=panes,
        )
    )

    def handle(task: AgentTask) -> Any:
        relay.working_on(task)
        try:
            return handlers.handle(task)
        finally:
            relay.done(task)

    queues = AgentQueues(cloud.agent_queue_url, settings.agent_id).create()
    leases = SessionLeases(
        cloud.table,
        settings.agent_id,
        queues.queue_url,
        queues.chat_queue_url,
        settings.lease_seconds,
    )
    registry = AgentRegistry(
        cloud.table,
        settings.agent_id,
        queues.queue_url,
        queues.chat_queue_url,
        settings.lease_seconds,
    )
    registry.register()
    restorer = SessionRestorer(settings.work_dir, cloud.artifacts_bucket, cloud.table, engine)
    gate = SessionGate(leases, restorer, settings.max_sessions)
    sweeper = QueueSweeper(registry, cloud.agent_queue_url, cloud.chat_queue_url)
    metrics = HostMetrics(settings.scaling_group, leases.count)

    def every_tick() -> None:
        metrics.publish()  # never raises
        sweeper.sweep()

    keeper = LeaseKeeper(leases, registry, on_tick=every_tick).start()
    ledger = TaskLedger(cloud.table, settings.agent_id, settings.visibility_seconds)

    def consumer_of(queue_url: str, shared: bool) -> Consumer:
        return Consumer(
            queue_url,
            handle,
            events,
            concurrency=settings.concurrency,
            heartbeat_seconds=settings.heartbeat_seconds,
            visibility_seconds=settings.visibility_seconds,
            handle_command=UserTeardown(
                settings.work_dir, sessions, credentials.forget_user, leases
            ),
            ledger=ledger,
            grace_seconds=settings.shutdown_grace_seconds,
            gate=gate,
            shared=shared,
        )

    consumer = consumer_of(cloud.agent_queue_url, shared=True)
    own_consumer = consumer_of(queues.queue_url, shared=False)
    own_thread = threading.Thread(target=own_consumer.run, name="own-queue", daemon=True)

    chat: ChatConsumer | None = None
    own_chat: ChatConsumer | None = None

    def shutdown(signum: int, _frame: Any) -> None:
        log.info(
            "signal %s: taking no new work; %d job(s) in flight get %g s to finish",
            signum,
            consumer.in_flight() + own_consumer.in_flight(),
            settings.shutdown_grace_seconds,
        )
        consumer.stop()
        own_consumer.stop()
        for loop in (chat, own_chat):
            if loop is not None:
                loop.stop()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    adopted = sessions.adopt()
    chat = start_chat_consumer(settings, cloud, engine, gate=gate)  # None without a chat queue
    own_chat = start_chat_consumer(
        settings, cloud, engine, queue_url=queues.chat_queue_url, gate=gate
    )
    own_thread.start()
    log.info(
        "agent %s polling %s and its own %s (task ledger in %s, work dir %s, "
        "%d session(s) adopted)",
        settings.agent_id,
        cloud.agent_queue_url,
        queues.queue_url,
        cloud.table,
        settings.work_dir,
        len(adopted),
    )
    try:
        consumer.run()
        own_thread.join(timeout=settings.shutdown_grace_seconds + 5)
    finally:
        for loop in (chat, own_chat):
            if loop is not None:
                loop.stop()
                loop.join(timeout=settings.shutdown_grace_seconds)
        keeper.stop()
        _leave(leases, registry, queues, sweeper)
        hub.stop()
    log.info("agent %s stopped", settings.agent_id)
    return 0


def _leave(
    leases: SessionLeases, registry: AgentRegistry, queues: AgentQueues, sweeper: QueueSweeper
) -> None:
    """Clean shutdown: the sessions' next work goes to the shared queues, then to other hosts."""
    try:
        released = leases.release_all()
        moved = sum(
            sweeper.move_all(url, chat)[0]
            for url, chat in ((queues.queue_url, False), (queues.chat_queue_url, True))
        )
        queues.delete()
        registry.deregister()
        log.info("released %d lease(s), moved %d waiting message(s) on", released, moved)
    except Exception:
        log.exception("could not leave cleanly; the other hosts sweep this one's queues")
