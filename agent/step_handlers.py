"""What the agent does for each pipeline step it is handed.

``create_plan``, ``generate_code`` and ``e2e_tests`` are AI turns in the user's tmux session;
``deploy``, ``screenshot`` and the running of the generated tests are plain code on this host.
Each handler returns the value the state machine stores at the step's ResultPath, and checks
the AI's work (a plan, an entry page, test files) instead of trusting that a turn ended.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.artifacts import Artifacts
from agent.chat_consumer import PaneCapture
from agent.engine.base import (
    EngineError,
    EngineExited,
    EngineNotReady,
    PermissionDenied,
    PromptNotDelivered,
    TurnTimeout,
)
from agent.errors import (
    AiTurnError,
    CodeMissingError,
    E2EError,
    EngineExitedError,
    EngineNotReadyError,
    PermissionDeniedError,
    PlanMissingError,
    PromptNotDeliveredError,
    StepError,
    TurnTimeoutError,
)
from agent.events import EventPublisher
from agent.prompts import task_prompt
from agent.session_setup import prepare_workspace
from agent.uploads_sync import sync_uploads, uploads_instruction
from agent.workspace import Workspace
from tmux_builder import naming
from tmux_builder.contracts import (
    ActivityType,
    AgentTask,
    DeployResult,
    Provider,
    ScreenshotSet,
    SiteSpec,
)
from tmux_builder.pipeline import Step
from tmux_builder.settings import AgentSettings, CloudSettings

log = logging.getLogger(__name__)


class InvalidTask(StepError):
    error_code = "InvalidTask"


# Engine errors as the state machine knows them (the status page names what went wrong).
_TURN_ERRORS: dict[type[EngineError], type[AiTurnError]] = {
    EngineNotReady: EngineNotReadyError,
    PromptNotDelivered: PromptNotDeliveredError,
    TurnTimeout: TurnTimeoutError,
    EngineExited: EngineExitedError,
    PermissionDenied: PermissionDeniedError,
}


@dataclass
class StepContext:
    """Everything a handler needs, built once by the agent's main."""

    settings: AgentSettings
    cloud: CloudSettings
    engine: Any  # agent.engine.base.Engine
    events: EventPublisher
    artifacts: Artifacts
    edge: Any  # agent.edge.Edge
    panes: PaneCapture | None = None


class StepHandlers:
    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx
        self._handlers = {
            Step.CREATE_PLAN: self.create_plan,
            Step.GENERATE_CODE: self.generate_code,
            Step.DEPLOY: self.deploy,
            Step.SCREENSHOT: self.screenshot,
            Step.E2E_TESTS: self.e2e_tests,
        }

    def handle(self, task: AgentTask) -> Any:
        handler = self._handlers.get(task.step)
        if handler is None:
            raise InvalidTask(f"the agent does not run step {task.step.value}")
        if task.state.site is None:
            raise InvalidTask("the task carries no site (create_session did not run)")
        return handler(task, task.state.site)

    # ------------------------------------------------------------------ helpers

    def _workspace(self, task: AgentTask, site: SiteSpec) -> Workspace:
        ws = Workspace(self.ctx.settings.work_dir, task.user_id)
        return prepare_workspace(ws, task.session_id, site)

    def _requirements(self, task: AgentTask) -> str:
        if not task.state.requirements_key:
            raise InvalidTask("the task carries no requirements document")
        return self.ctx.artifacts.read_text(task.state.requirements_key)

    def _uploads(self, task: AgentTask, ws: Workspace) -> str:
        """The session's accepted uploads, copied in under their stored names, as prompt lines."""
        uploads = sync_uploads(self.ctx.artifacts, task.user_id, task.session_id, ws.uploads_dir)
        return uploads_instruction(uploads)

    def _keys(self, task: AgentTask) -> naming.ArtifactKeys:
        return naming.ArtifactKeys(task.user_id, task.session_id, task.execution_id)

    def _activity(self, task: AgentTask, message: str) -> None:
        self.ctx.events.activity(
            task.execution_id, task.user_id, ActivityType.STATUS, message, task.step
        )

    def _ai_turn(self, task: AgentTask, ws: Workspace, prompt: str) -> str:
        source = f"step:{task.step.value}"
        panes = self.ctx.panes
        live = (
            panes.live(task.user_id, task.session_id, source)
            if panes is not None
            else contextlib.nullcontext()
        )
        try:
            self.ctx.engine.ensure_started(ws)
            with live:  # the admin's pane view follows the turn
                result = self.ctx.engine.run_turn(
                    ws, task.task_id, prompt, timeout=self.ctx.settings.turn_timeout_seconds
                )
        except EngineError as error:
            stored = self.ctx.panes is not None and self.ctx.panes.capture(
                task.user_id, task.session_id, source, fallback=error.pane_tail
            )
            where = " (the pane's last output is stored with the session)" if stored else ""
            failure = next(
                (v for k, v in _TURN_ERRORS.items() if isinstance(error, k)), AiTurnError
            )
            raise failure(f"{error}{where}") from error
        if self.ctx.panes is not None:
            self.ctx.panes.capture(task.user_id, task.session_id, source)
        summary_path = ws.summary_path(task.task_id)
        if summary_path.exists():
            self.ctx.artifacts.upload_file(
                summary_path, self._keys(task).summary(task.step.value), "text/markdown"
            )
        if result.last_message:
            self.ctx.events.activity(
                task.execution_id,
                task.user_id,
                ActivityType.SUMMARY,
                result.last_message,
                task.step,
            )
        return result.last_message

    # ------------------------------------------------------------------ steps

    def create_plan(self, task: AgentTask, site: SiteSpec) -> str:
        ws = self._workspace(task, site)
        requirements = self._requirements(task)
        (ws.dir / "requirements.md").write_text(requirements, encoding="utf-8")
        self._activity(task, "Planning the site...")
        prompt = task_prompt(Step.CREATE_PLAN, task.task_id, site, requirements)
        self._ai_turn(task, ws, prompt + self._uploads(task, ws))
        plan = ws.dir / "plan.md"
        if not plan.is_file() or not plan.read_text(encoding="utf-8").strip():
            raise PlanMissingError("the AI finished without writing plan.md")
        return self.ctx.artifacts.upload_file(plan, self._keys(task).plan, "text/markdown")

    def generate_code(self, task: AgentTask, site: SiteSpec) -> str:
        ws = self._workspace(task, site)
        requirements = self._requirements(task)
        self._activity(task, "Writing the site's code...")
        prompt = task_prompt(Step.GENERATE_CODE, task.task_id, site, requirements)
        self._ai_turn(task, ws, prompt + self._uploads(task, ws))
        if not (ws.code_dir / "index.html").is_file():
            raise CodeMissingError("the AI finished without writing code/index.html")
        key, count = self.ctx.artifacts.upload_tree(ws.code_dir, self._keys(task).code_snapshot)
        self._activity(task, f"Code saved ({count} files)")
        return key

    def _site_dir(self, ws: Workspace) -> Path:
        built = ws.code_dir / "dist"
        return built if (built / "index.html").is_file() else ws.code_dir

    def deploy(self, task: AgentTask, site: SiteSpec) -> dict[str, Any]:
        """Deploy as the user's own identity: the agent's credentials never touch the site."""
        from agent.deploy.base import DeployRequest, SiteResource, deployer_for

        deployer = deployer_for(site)
        if site.provider is Provider.AWS and not task.state.identity_role_arn:
            raise InvalidTask("the task carries no identity_role_arn (create_user did not run)")
        ws = self._workspace(task, site)
        # Each resource once; again only if it comes back knowing more (a VM's address is
        # known at the end, its resource group at the start), which updates its record.
        recorded: set[tuple[str, str, tuple[tuple[str, str], ...]]] = set()

        def record(resource: SiteResource) -> None:
            key = (resource.type, resource.id, tuple(sorted(resource.metadata.items())))
            if key in recorded:
                return
            self.ctx.events.resource_created(
                task, resource.type, resource.id, dict(resource.metadata)
            )
            recorded.add(key)

        outcome = deployer(
            DeployRequest(
                site=site,
                user_id=task.user_id,
                session_id=task.session_id,
                execution_id=task.execution_id,
                code_dir=ws.code_dir,
                site_dir=self._site_dir(ws),
                tags=naming.resource_tags(task.user_id, task.session_id, site.site_type.value),
                progress=lambda message: self._activity(task, message),
                aws_session=lambda: self._user_aws_session(task),
                edge=self.ctx.edge,
                settings=self.ctx.settings,
                cloud=self.ctx.cloud,
                code_snapshot_key=self._keys(task).code_snapshot,
                record=record,
            )
        )
        for resource in outcome.resources:
            record(resource)
        self.ctx.events.activity(
            task.execution_id, task.user_id, ActivityType.DEPLOYED, outcome.result.url, task.step
        )
        return outcome.result.model_dump(mode="json", exclude_none=True)

    def _user_aws_session(self, task: AgentTask) -> Any:
        from agent.credentials import session_for_user

        if not task.state.identity_role_arn:
            raise InvalidTask("the task carries no identity_role_arn (create_user did not run)")
        return session_for_user(task.state.identity_role_arn, task.user_id)

    def _deployed(self, task: AgentTask) -> DeployResult:
        if task.state.deploy is None:
            raise InvalidTask(f"{task.step.value} needs the deploy step's result")
        return task.state.deploy

    def screenshot(self, task: AgentTask, site: SiteSpec) -> dict[str, Any]:
        from agent.browser import chromium_path, take_screenshots

        deployed = self._deployed(task)
        self._activity(task, "Taking screenshots...")
        with tempfile.TemporaryDirectory(prefix="tmux-builder-shot-") as out:
            shots = take_screenshots(
                deployed.url, Path(out), chromium_path(self.ctx.settings.chromium_path)
            )
            keys = self._keys(task)
            stored = {}
            for shot in shots:
                viewport = shot.stem.removeprefix("screenshot-")
                stored[viewport] = self.ctx.artifacts.upload_file(
                    shot, keys.screenshot(viewport), "image/png"
                )
        self._activity(task, f"Screenshots stored ({', '.join(stored)})")
        return ScreenshotSet.model_validate(stored).model_dump(mode="json", exclude_none=True)

    def e2e_tests(self, task: AgentTask, site: SiteSpec) -> dict[str, Any]:
        from agent.browser import chromium_path
        from agent.e2e_runner import run_e2e_tests
        from agent.pane_user import pane_user_from_setting

        deployed = self._deployed(task)
        ws = self._workspace(task, site)
        requirements = self._requirements(task)
        self._activity(task, "Writing end-to-end tests...")
        prompt = task_prompt(
            Step.E2E_TESTS, task.task_id, site, requirements, site_url=deployed.url
        )
        self._ai_turn(task, ws, prompt)
        if not any(ws.e2e_dir.glob("test_*.py")):
            raise E2EError("the AI finished without writing e2e/test_*.py")
        self._activity(task, "Running end-to-end tests...")
        keys = self._keys(task)
        # The tests run as the AI's pane user when there is one (out of reach of the host's
        # credentials); their report is copied to a folder of the agent's, not the session's,
        # where the AI could swap it for a link before it is uploaded.
        with tempfile.TemporaryDirectory(prefix="tmux-builder-e2e-report-") as private:
            report = Path(private) / "e2e-report.xml"
            summary = run_e2e_tests(
                ws.e2e_dir,
                deployed.url,
                report,
                chromium_path(self.ctx.settings.chromium_path),
                pane_user=pane_user_from_setting(self.ctx.settings.pane_user),
            )
            report_key = self.ctx.artifacts.upload_file(report, keys.e2e_report, "application/xml")
        self.ctx.artifacts.upload_tree(ws.e2e_dir, keys.e2e_tests)
        result = summary.to_result(report_key)
        if not result.ok:
            failures = "; ".join(f"{f.name}: {f.message[:200]}" for f in summary.failures[:5])
            raise E2EError(
                f"E2E tests failed: {result.failed} failed, {result.errors} errors, "
                f"{result.passed} passed. {failures}"
            )
        self._activity(task, f"All {result.passed} end-to-end tests passed")
        return result.model_dump(mode="json")
