"""Configuration read from the environment, the same way in Lambda, on the agent host and locally.

The template (``template.yaml``, Globals) sets these for the Lambda functions; the embedded stack
sets them from the same template for the in-process handlers and the agent.
AWS endpoints are not configured here: boto3 reads ``AWS_ENDPOINT_URL`` itself, which is how the
embedded stack points every client at moto without any code knowing.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class CloudSettings(BaseSettings):
    """Names of the shared cloud resources (from the template's outputs)."""

    model_config = SettingsConfigDict(env_prefix="TMUX_BUILDER_", extra="ignore")

    table: str = "tmux-builder-table"
    agent_queue_url: str = ""
    events_queue_url: str = ""
    chat_queue_url: str = ""
    artifacts_bucket: str = ""
    state_machine_arn: str = ""
    region: str = Field(default="us-east-1", validation_alias="AWS_REGION")
    # How a CloudFront distribution is reached: "cloudfront" (its domain name) or the base URL
    # of the local site server that plays the edge on one machine.
    edge: str = "cloudfront"
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


class AgentSettings(BaseSettings):
    """The agent host."""

    model_config = SettingsConfigDict(env_prefix="TMUX_BUILDER_AGENT_", extra="ignore")

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
    # How long one AI turn may take before the task fails.
    turn_timeout_seconds: float = 900.0
    claude_bin: str = ""
    chromium_path: str = ""
    # Model backend for the engine: an Anthropic-compatible base URL (the offline model locally),
    # or empty to let the CLI use the operator's configured Anthropic credentials.
    model_base_url: str = ""
    model: str = ""
    # Claude Code's effort level (low, medium, high, xhigh, max); empty: the CLI's default.
    effort: Literal["", "low", "medium", "high", "xhigh", "max"] = ""


@lru_cache(maxsize=1)
def cloud() -> CloudSettings:
    return CloudSettings()


def reload() -> None:
    """Forget cached settings (after the embedded stack changed the environment)."""
    cloud.cache_clear()
