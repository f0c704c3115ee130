"""Configuration read from the environment, the same way in Lambda, on the agent host and locally.

The template sets :class:`CloudSettings` for the Lambda functions (Globals) and, with the
agent's own settings, for the agent hosts (their ``agent.env``); the embedded stack sets them
from the same template for the in-process handlers and the agents, and gives its agents the
addresses of its local stand-ins for CloudFront and EC2. Settings only the agent reads live in
:class:`AgentSettings`, so a function's environment holds nothing it does not use.
AWS endpoints are not configured here: boto3 reads ``AWS_ENDPOINT_URL`` itself, which is how the
embedded stack points every client at moto without any code knowing.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class CloudSettings(BaseSettings):
    """Names of the shared cloud resources (from the template's outputs)."""

    model_config = SettingsConfigDict(env_prefix="TMUX_BUILDER_", extra="ignore")

    table: str = "tmux-builder-table"
    agent_queue_url: str = ""
    events_queue_url: str = ""
    chat_queue_url: str = ""
    # Later teardown passes (control_plane/teardown_followup.py): a pass that could only wait
    # for CloudFront or EC2 queues the next one here, with a delay. Empty: none are queued.
    teardown_queue_url: str = ""
    artifacts_bucket: str = ""
    state_machine_arn: str = ""
    region: str = Field(default="us-east-1", validation_alias="AWS_REGION")
    # Where health_check may look; "local" allows loopback URLs (the embedded stack only).
    environment: str = "aws"
    # Base URL of the portal; client links point into it.
    portal_url: str = ""
    # Whether a public onboarding request starts a build without an admin's approval.
    auto_approve: bool = False
    # How long one health_check invocation polls before it hands over to the state machine's Retry.
    health_check_budget_seconds: float = 120.0
    # The only principal the per-user roles trust (the agent host's role ARN). Empty: the
    # control plane's own identity, as on the embedded stack where both share credentials.
    agent_principal_arn: str = ""
    # A managed policy ARN set as the permissions boundary of every per-user role (optional).
    user_permissions_boundary_arn: str = ""
    # The WebSocket API's URL (wss://.../ws; ws:// on the embedded stack's gateway). The portal
    # connects to it; its http(s) form is the management endpoint events are posted to. Empty:
    # no live updates (the portal polls).
    websocket_url: str = ""


class AgentSettings(BaseSettings):
    """The agent host.

    Where and how the agent puts sites (``edge``, ``instance_host``, ``site_instance_*``) is
    read only here: the Lambda functions never deploy a site, so the template does not hand
    them these. Those keep the variable names they had as cloud settings
    (``TMUX_BUILDER_EDGE``, ``TMUX_BUILDER_INSTANCE_HOST``, ``TMUX_BUILDER_SITE_INSTANCE_*``,
    see :func:`environment_variable`), which the agent host's ``agent.env`` and the docs use.
    """

    # populate_by_name (pydantic >= 2.10, as pinned; validate_by_name from 2.11):
    # AgentSettings(instance_host=...) sets the field; without it pydantic would ignore that
    # keyword, which matches no alias. A side effect in pydantic-settings: the prefixed spelling
    # (TMUX_BUILDER_AGENT_INSTANCE_HOST) is read too, after the documented name.
    model_config = SettingsConfigDict(
        env_prefix="TMUX_BUILDER_AGENT_", extra="ignore", populate_by_name=True
    )

    # How a CloudFront distribution is reached: "cloudfront" (its domain name) or the base URL
    # of the local site server that plays the edge on one machine.
    edge: str = Field(default="cloudfront", validation_alias="TMUX_BUILDER_EDGE")
    # How a dynamic site's EC2 instance is reached: "ec2" (its public DNS name) or the base URL
    # of the embedded stack's instance host, which runs each instance's release locally.
    instance_host: str = Field(default="ec2", validation_alias="TMUX_BUILDER_INSTANCE_HOST")
    # Dynamic sites' instances: type, and AMI (empty: the latest Amazon Linux 2023 from SSM).
    site_instance_type: str = Field(
        default="t3.micro", validation_alias="TMUX_BUILDER_SITE_INSTANCE_TYPE"
    )
    site_instance_ami: str = Field(default="", validation_alias="TMUX_BUILDER_SITE_INSTANCE_AMI")
    # The managed policy every dynamic site's instance role is created with as its permissions
    # boundary (template.yaml SiteInstanceBoundary; the per-user policy requires one named
    # policy/tmux-builder/*-site-instance-boundary). Empty: none, as on the embedded stack.
    site_instance_boundary_arn: str = Field(
        default="", validation_alias="TMUX_BUILDER_SITE_INSTANCE_BOUNDARY_ARN"
    )

    agent_id: str = "agent-1"
    work_dir: Path = Path("/var/lib/tmux-builder")
    tmux_socket: str = "tmux-builder"
    concurrency: int = 4
    # Seconds between SendTaskHeartbeat calls. Every agent state of the state machine has
    # HeartbeatSeconds 120: six beats per window, so one or two lost calls never time a step out
    # (tests/agent/test_consumer.py keeps the two in line).
    heartbeat_seconds: float = 20.0
    # SQS visibility of a running task's message, extended every third of it together with the
    # task's lease in the ledger: the task of an agent that died is taken up again by another
    # (or the restarted) agent within this many seconds. The queue's own VisibilityTimeout does
    # not apply (the agent sets this on every receive).
    visibility_seconds: int = 30
    # After SIGTERM: how long tasks in flight may still finish. What is still running then is
    # handed back (its message visible again, its lease released) and the agent exits 0; on EC2
    # systemd's TimeoutStopSec must be longer.
    shutdown_grace_seconds: float = 60.0
    # Many hosts (agent/leases.py): how long a session stays this host's without renewal (it is
    # renewed every third of it), and after how many sessions a new one is first offered to the
    # other hosts (0: no limit).
    lease_seconds: float = 30.0
    max_sessions: int = 0
    # The auto scaling group this host belongs to: it publishes its session count there for the
    # group's target tracking (agent.host_metrics). Empty (one host, the embedded stack): none.
    scaling_group: str = ""
    # How long one AI turn may take before the task fails.
    turn_timeout_seconds: float = 900.0
    claude_bin: str = ""
    # The Unix user the AI panes run as (agent.pane_user), so the AI cannot reach the agent's
    # process, files or the host's cloud credentials. Empty: the agent's own user.
    pane_user: str = ""
    chromium_path: str = ""
    # Model backend for the engine: an Anthropic-compatible base URL (the offline model locally),
    # or empty to let the CLI use the operator's configured Anthropic credentials.
    model_base_url: str = ""
    model: str = ""
    # Claude Code's effort level (low, medium, high, xhigh, max); empty: the CLI's default.
    effort: Literal["", "low", "medium", "high", "xhigh", "max"] = ""


class AzureSettings(BaseSettings):
    """Where Azure sites go, and the operator's Azure identity (agent host and teardown only).

    The credentials come from the host's environment or, on AWS, from a Secrets Manager secret
    (``credentials_secret_arn``, JSON with ``tenant_id``, ``client_id``, ``client_secret``).
    They are never passed to a tmux pane: the AI's environment is an allowlist.
    With ``blob_endpoint`` set (Azurite on the embedded stack) static sites are containers of
    that one account and the local site server serves them. With ``local_arm`` set the
    management endpoint is the stack's Resource Manager stand-in, where dynamic sites' VMs run
    as local processes.

    Variables: TMUX_BUILDER_AZURE_SUBSCRIPTION_ID, TMUX_BUILDER_AZURE_TENANT_ID,
    TMUX_BUILDER_AZURE_CLIENT_ID, TMUX_BUILDER_AZURE_CLIENT_SECRET,
    TMUX_BUILDER_AZURE_CREDENTIALS_SECRET_ARN, TMUX_BUILDER_AZURE_LOCATION,
    TMUX_BUILDER_AZURE_CDN, TMUX_BUILDER_AZURE_VM_SIZE, TMUX_BUILDER_AZURE_MANAGEMENT_ENDPOINT,
    TMUX_BUILDER_AZURE_AUTHORITY_HOST, TMUX_BUILDER_AZURE_BLOB_ENDPOINT,
    TMUX_BUILDER_AZURE_LOCAL_ARM.
    """

    model_config = SettingsConfigDict(env_prefix="TMUX_BUILDER_AZURE_", extra="ignore")

    subscription_id: str = ""
    tenant_id: str = ""
    client_id: str = ""
    client_secret: SecretStr = SecretStr("")
    credentials_secret_arn: str = ""
    location: str = "eastus"
    # Put static sites behind Azure Front Door (azure-mgmt-cdn); off: the storage account's
    # static website endpoint is the URL.
    cdn: bool = True
    vm_size: str = "Standard_B1s"
    # Azure Resource Manager and Entra ID endpoints (other clouds, or a test double).
    management_endpoint: str = "https://management.azure.com"
    authority_host: str = "https://login.microsoftonline.com"
    # Azurite: the Blob endpoint of the well-known development account, e.g.
    # http://127.0.0.1:10000/devstoreaccount1.
    blob_endpoint: str = ""
    # The management endpoint is the embedded stack's Resource Manager stand-in
    # (tmux_builder/local/azure_arm.py): the management clients present its well-known static
    # token over plain http instead of signing in as a service principal.
    local_arm: bool = False

    @property
    def is_local(self) -> bool:
        return bool(self.blob_endpoint)


def environment_variable(settings_class: type[BaseSettings], field_name: str) -> str:
    """The environment variable one setting is read from: its alias, else prefix and name.

    The template, the embedded stack and the docs name settings by these variables; tests
    check them against the settings classes through this one rule.
    """
    field = settings_class.model_fields[field_name]
    if isinstance(field.validation_alias, str):
        return field.validation_alias
    return f"{settings_class.model_config.get('env_prefix', '')}{field_name}".upper()


@lru_cache(maxsize=1)
def cloud() -> CloudSettings:
    return CloudSettings()


def reload() -> None:
    """Forget cached settings (after the embedded stack changed the environment)."""
    cloud.cache_clear()
