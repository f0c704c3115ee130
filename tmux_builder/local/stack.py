"""``tmux-builder up``: the whole system on one machine, in the foreground.

Order of start (each piece needs the ones before it):

1. moto in server mode (every AWS service) and the in-process Lambda runtime;
2. the site server (plays CloudFront), the instance host (runs the app of each dynamic site's
   EC2 instance or Azure VM), whose addresses the agents get (:func:`agent_site_settings`), and
   the Azure Resource Manager stand-in (azure/dynamic VMs, handed to the instance host);
3. the resources of ``template.yaml``, provisioned into moto; their environment becomes the
   environment of the in-process handlers;
4. the offline model (unless a real model was asked for);
5. the local gateway (REST API through the Chalice app, the WebSocket API, the built portal);
6. the agent host(s), each its own process with its own tmux socket and work folder.

Ctrl-C (or SIGTERM) stops everything in reverse order, including the agents' tmux servers and
the CLIs in them: nothing started here is left running.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tmux_builder import aws, settings
from tmux_builder.api_client import admin_token_file, stack_file

log = logging.getLogger("tmux_builder.stack")

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
PORTAL_DIR = ROOT / "frontend" / "dist"
CLAUDE_BIN = ROOT / "node_modules" / ".bin" / "claude"
LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}
# Environment the agent needs from the stack (least privilege: no state machine; the table
# only for its task ledger, whose ``TASK#`` items are all its IAM role may touch on AWS).
_AGENT_CLOUD_VARS = (
    "TMUX_BUILDER_ARTIFACTS_BUCKET",
    "TMUX_BUILDER_ENVIRONMENT",
    "TMUX_BUILDER_TABLE",
    "TMUX_BUILDER_AZURE_BLOB_ENDPOINT",
    # The Resource Manager stand-in (no operator secret: the agent uses its static token).
    "TMUX_BUILDER_AZURE_LOCAL_ARM",
    "TMUX_BUILDER_AZURE_MANAGEMENT_ENDPOINT",
    "TMUX_BUILDER_AZURE_SUBSCRIPTION_ID",
)
_AZURE_BLOB_ENDPOINT = "TMUX_BUILDER_AZURE_BLOB_ENDPOINT"
# Agent tuning taken from the stack's own environment when set (tests shorten the leases).
_AGENT_TUNING_VARS = (
    "TMUX_BUILDER_AGENT_LEASE_SECONDS",
    "TMUX_BUILDER_AGENT_MAX_SESSIONS",
    "TMUX_BUILDER_AGENT_CONCURRENCY",
)
# After SIGTERM an agent hands back what did not finish within this grace: shorter than the
# 15 s that :meth:`EmbeddedStack._stop_agent` waits before it kills the agent.
_AGENT_SHUTDOWN_GRACE_SECONDS = "10"


class StackError(Exception):
    """The stack could not start; the message says what to do."""


def agent_site_settings(site_server: str, instance_host: str) -> dict[str, str]:
    """The agents' environment for reaching sites: the local stand-ins for CloudFront and EC2.

    Only the agent reads these (:class:`~tmux_builder.settings.AgentSettings`): the template
    gives them to no function, so they come from the servers the stack started, not from the
    functions' environment. On AWS the agent hosts' ``agent.env`` sets the same variables.
    """
    return {
        settings.environment_variable(settings.AgentSettings, "edge"): site_server,
        settings.environment_variable(settings.AgentSettings, "instance_host"): instance_host,
    }


@dataclass
class StackOptions:
    state_dir: Path = Path(".tmux-builder")
    host: str = "127.0.0.1"
    api_port: int = 8080
    aws_port: int = 4566
    model_port: int = 8765
    agents: int = 1
    offline_model: bool = True
    health_check_budget_seconds: int = 20
    agent_restart_limit: int = 5
    # False: an agent that dies stays down (a lost host; its sessions move to the others).
    restart_agents: bool = True
    # Azure Blob (Azurite) for azure/static sites: None starts it when it is installed.
    azure: bool | None = None


@dataclass
class AgentProcess:
    agent_id: str
    socket: str
    work_dir: Path
    log_path: Path
    environment: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    restarts: list[float] = field(default_factory=list)


def _die_with_parent() -> None:
    """In the child: get SIGTERM if the stack process dies without cleaning up."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class EmbeddedStack:
    def __init__(self, options: StackOptions) -> None:
        self.options = options
        self.state_dir = options.state_dir.resolve()
        self.stack_id = hashlib.sha256(str(self.state_dir).encode()).hexdigest()[:8]
        self._stopping = threading.Event()
        self._closers: list[tuple[str, Any]] = []
        self.agents: list[AgentProcess] = []
        self.info: dict[str, Any] = {}
        # Printed once by the banner; never written to stack.json.
        self.new_admin_token: str | None = None

    # ------------------------------------------------------------------ start

    def start(self) -> dict[str, Any]:
        self._claim_state_dir()
        os.environ.update(LOCAL_CREDENTIALS)
        os.environ.pop("AWS_PROFILE", None)
        try:
            self._start_services()
        except BaseException:
            self.stop()
            raise
        return self.info

    def _claim_state_dir(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / "logs").mkdir(exist_ok=True)
        existing = stack_file(self.state_dir)
        if existing.is_file():
            try:
                pid = int(json.loads(existing.read_text()).get("pid", 0))
            except (ValueError, TypeError):
                pid = 0
            if pid and pid != os.getpid() and _pid_alive(pid):
                raise StackError(
                    f"a stack is already running from {self.state_dir} (pid {pid}); "
                    "stop it with Ctrl-C in its terminal or `kill {pid}`"
                )
            existing.unlink()

    def _start_services(self) -> None:
        from tmux_builder.local import lambda_runtime
        from tmux_builder.local.moto_server import MotoServer
        from tmux_builder.local.provision import provision
        from tmux_builder.local.site_server import SiteServer

        opts = self.options
        moto = MotoServer(port=opts.aws_port, host=opts.host).start()
        self._closers.append(("embedded AWS", moto.stop))
        os.environ["AWS_ENDPOINT_URL"] = moto.endpoint_url
        lambda_runtime.install({"build/lambda/": "control_plane"})
        self._closers.append(("Lambda runtime", lambda_runtime.uninstall))

        blob_endpoint = self._start_azurite()
        site = SiteServer(
            self.state_dir / "sites",
            moto.endpoint_url,
            host=opts.host,
            azure_blob_endpoint=blob_endpoint,
        ).start()
        self._closers.append(("site server", site.stop))

        # Dynamic sites: runs the app of each running instance (moto runs none).
        from tmux_builder.local.instance_host import InstanceHost

        instances = InstanceHost(
            self.state_dir / "instances", moto.endpoint_url, host=opts.host
        ).start()
        self._closers.append(("instance host", instances.stop))
        site_settings = agent_site_settings(site.control_url, instances.control_url)

        # Azure Resource Manager for azure/dynamic sites: their VMs' apps run on the host above.
        from tmux_builder.local.azure_arm import AzureArm

        arm = AzureArm(instances, host=opts.host).start()
        self._closers.append(("Azure Resource Manager stand-in", arm.stop))
        os.environ.update(arm.environment())

        # The gateway goes up first: its address is the portal URL the template takes.
        from control_plane.app import app, websocket_handler
        from tmux_builder.local.gateway import LocalApiServer

        portal = PORTAL_DIR if (PORTAL_DIR / "index.html").is_file() else None
        if portal is None:
            log.warning("the portal is not built (frontend/dist); `make run` builds it")
        gateway = LocalApiServer(app, portal, host=opts.host, port=opts.api_port)
        gateway.serve_websocket(websocket_handler)  # the WebSocket API, at /ws
        gateway.start()
        self._closers.append(("gateway", gateway.stop))

        stack = provision(
            TEMPLATE,
            moto.endpoint_url,
            {
                "Environment": "local",
                "PortalUrl": gateway.url,
                "WebSocketUrl": gateway.websocket_url,
                "AutoApprove": "true",
                "HealthCheckBudgetSeconds": str(opts.health_check_budget_seconds),
            },
        )
        os.environ.update(stack.environment)
        settings.reload()
        aws.reset()
        admin_token, token_is_new = self._admin_token()
        self.new_admin_token = admin_token if token_is_new else None
        aws.client("secretsmanager").put_secret_value(
            SecretId=stack.outputs["AdminTokenSecretArn"], SecretString=admin_token
        )

        model_url = ""
        if opts.offline_model:
            from tmux_builder.offline_model.server import OfflineModelServer

            model = OfflineModelServer(host=opts.host, port=opts.model_port).start()
            self._closers.append(("offline model", model.stop))
            model_url = model.url

        for number in range(1, opts.agents + 1):
            agent = AgentProcess(
                agent_id=f"agent-{number}",
                socket=f"tmux-builder-{self.stack_id}-agent-{number}",
                work_dir=self.state_dir / "agents" / f"agent-{number}",
                log_path=self.state_dir / "logs" / f"agent-{number}.log",
            )
            agent.environment = self._agent_environment(
                agent, stack.outputs, model_url, site_settings
            )
            self.agents.append(agent)
            self._closers.append((agent.agent_id, lambda a=agent: self._stop_agent(a)))
            self._spawn_agent(agent)

        self.info = {
            "pid": os.getpid(),
            "admin_token_file": str(admin_token_file(self.state_dir)),
            "portal_url": gateway.url + "/",
            "api_url": gateway.url,
            "websocket_url": gateway.websocket_url,
            "aws_endpoint": moto.endpoint_url,
            "site_server": site.control_url,
            "azure_blob_endpoint": blob_endpoint or None,
            "instance_host": instances.control_url,
            "azure_management_endpoint": arm.url,
            "model_url": model_url or None,
            "state_machine_arn": stack.outputs.get("StateMachineArn"),
            "outputs": stack.outputs,
            "agents": [
                {
                    "agent_id": a.agent_id,
                    "pid": a.process.pid if a.process else None,
                    "tmux_socket": a.socket,
                }
                for a in self.agents
            ],
            "started_at": time.time(),
        }
        tmp = stack_file(self.state_dir).with_suffix(".tmp")
        tmp.write_text(json.dumps(self.info, indent=2))
        tmp.replace(stack_file(self.state_dir))

    def _start_azurite(self) -> str:
        """Azurite's Blob endpoint, set for the control plane and the agents ("" when off)."""
        from tmux_builder.local.azurite import Azurite, azurite_available

        wanted = self.options.azure
        if wanted is None:
            wanted = azurite_available()
        if not wanted:
            os.environ.pop(_AZURE_BLOB_ENDPOINT, None)
            return ""
        azurite = Azurite(self.state_dir / "logs" / "azurite.log", host=self.options.host)
        azurite.start()
        self._closers.append(("Azurite", azurite.stop))
        os.environ[_AZURE_BLOB_ENDPOINT] = azurite.blob_endpoint
        return azurite.blob_endpoint

    def _admin_token(self) -> tuple[str, bool]:
        """The stack's admin credential: made once, kept (0600) in the state folder."""
        path = admin_token_file(self.state_dir)
        if path.is_file():
            return path.read_text().strip(), False
        token = secrets.token_urlsafe(32)
        path.touch(mode=0o600)
        path.write_text(token + "\n")
        return token, True

    # ------------------------------------------------------------------ agents

    def _agent_environment(
        self,
        agent: AgentProcess,
        outputs: dict[str, str],
        model_url: str,
        site_settings: dict[str, str],
    ) -> dict[str, str]:
        from agent.browser import ChromiumNotFoundError, chromium_path

        try:
            chromium = chromium_path()
        except ChromiumNotFoundError:
            chromium = ""
            log.warning(
                "chromium not found: screenshots and E2E tests will fail (apt-get install chromium)"
            )
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", str(self.state_dir)),
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "PYTHONUNBUFFERED": "1",
            **LOCAL_CREDENTIALS,
            "AWS_ENDPOINT_URL": os.environ["AWS_ENDPOINT_URL"],
            "TMUX_BUILDER_AGENT_QUEUE_URL": outputs["AgentQueueUrl"],
            "TMUX_BUILDER_EVENTS_QUEUE_URL": outputs["EventsQueueUrl"],
            "TMUX_BUILDER_CHAT_QUEUE_URL": outputs["ChatQueueUrl"],
            "TMUX_BUILDER_AGENT_AGENT_ID": agent.agent_id,
            "TMUX_BUILDER_AGENT_WORK_DIR": str(agent.work_dir),
            "TMUX_BUILDER_AGENT_TMUX_SOCKET": agent.socket,
            "TMUX_BUILDER_AGENT_CLAUDE_BIN": str(CLAUDE_BIN),
            "TMUX_BUILDER_AGENT_CHROMIUM_PATH": chromium,
            "TMUX_BUILDER_AGENT_MODEL_BASE_URL": model_url,
            "TMUX_BUILDER_AGENT_SHUTDOWN_GRACE_SECONDS": _AGENT_SHUTDOWN_GRACE_SECONDS,
            **site_settings,
        }
        for name in _AGENT_CLOUD_VARS:
            env[name] = os.environ.get(name, "")
        for name in _AGENT_TUNING_VARS:
            if os.environ.get(name):
                env[name] = os.environ[name]
        if not model_url:  # the real model: the CLI needs the operator's model credentials
            for name, value in os.environ.items():
                if name.startswith(("ANTHROPIC_", "CLAUDE_CODE_USE_")):
                    env[name] = value
        return env

    def _spawn_agent(self, agent: AgentProcess) -> None:
        agent.work_dir.mkdir(parents=True, exist_ok=True)
        log_file = agent.log_path.open("ab")
        agent.process = subprocess.Popen(
            [sys.executable, "-m", "tmux_builder.cli", "agent"],
            env=agent.environment,
            cwd=str(ROOT),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the stack, which stops agents in order
            preexec_fn=_die_with_parent,
        )
        log_file.close()
        agent.restarts.append(time.monotonic())

    def _stop_agent(self, agent: AgentProcess) -> None:
        process = agent.process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        tmux = shutil.which("tmux")
        if tmux:
            subprocess.run(
                [tmux, "-L", agent.socket, "kill-server"], capture_output=True, timeout=10
            )

    def watch(self) -> None:
        """Block until stopped; restart an agent that dies (bounded, so a crash loop ends)."""
        while not self._stopping.wait(1.0):
            for agent in self.agents:
                process = agent.process
                if process is None or process.poll() is None:
                    continue
                if not self.options.restart_agents:
                    if agent.restarts:
                        log.warning(
                            "%s exited with %s; not restarted", agent.agent_id, process.returncode
                        )
                        agent.restarts.clear()
                    continue
                recent = [t for t in agent.restarts if time.monotonic() - t < 60]
                if len(recent) >= self.options.agent_restart_limit:
                    log.error(
                        "%s keeps exiting; see %s. Stopping the stack.",
                        agent.agent_id,
                        agent.log_path,
                    )
                    return
                log.warning(
                    "%s exited with %s; restarting it (log: %s)",
                    agent.agent_id,
                    process.returncode,
                    agent.log_path,
                )
                self._spawn_agent(agent)

    # ------------------------------------------------------------------ stop

    def request_stop(self) -> None:
        self._stopping.set()

    def stop(self) -> None:
        self._stopping.set()
        for name, closer in reversed(self._closers):
            try:
                closer()
            except Exception:
                log.exception("stopping %s failed", name)
        self._closers.clear()
        path = stack_file(self.state_dir)
        if path.is_file():
            try:
                if json.loads(path.read_text()).get("pid") == os.getpid():
                    path.unlink()
            except ValueError:
                path.unlink()


def banner(info: dict[str, Any], new_admin_token: str | None = None) -> str:
    logs = Path(info["admin_token_file"]).parent / "logs"
    model = info["model_url"] or "the real model (Anthropic credentials from your environment)"
    if new_admin_token:
        admin = (
            f"{new_admin_token}\n                 (shown once; kept in {info['admin_token_file']})"
        )
    else:
        admin = f"in {info['admin_token_file']}"
    return f"""
tmux-builder is running. Ctrl-C stops everything.

  Portal:        {info["portal_url"]}
  REST API:      {info["api_url"]}/api
  WebSocket:     {info["websocket_url"]}   (live updates; ?token=<client or admin token>)
  AWS endpoint:  {info["aws_endpoint"]}   (moto; credentials testing/testing, region us-east-1)
  Offline model: {model}
  Azure Blob:    {info.get("azure_blob_endpoint") or "off (Azurite is not installed: npm ci)"}
  Admin token:   {admin}
  Agents:        {", ".join(a["agent_id"] for a in info["agents"])} (logs in {logs}/)

Try, in another shell:
  .venv/bin/tmux-builder build "A portfolio website for a photographer named Ada, dark theme"
"""


def run_stack(options: StackOptions) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    stack = EmbeddedStack(options)

    def on_signal(signum: int, _frame: Any) -> None:
        log.info("signal %s: stopping", signum)
        stack.request_stop()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        info = stack.start()
    except StackError as exc:
        print(f"tmux-builder: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - startup failures end in one clear line
        log.debug("start failed", exc_info=True)
        print(
            f"tmux-builder: could not start: {exc}\n"
            "(another stack or program on that port? choose others with "
            "--port/--aws-port/--model-port, see `tmux-builder up --help`)",
            file=sys.stderr,
        )
        return 2
    print(banner(info, stack.new_admin_token), flush=True)
    try:
        stack.watch()
    finally:
        print("Stopping...", flush=True)
        stack.stop()
        print("Stopped.", flush=True)
    return 0
