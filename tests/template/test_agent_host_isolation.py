"""The agent host keeps the AI away from the host's cloud credentials (docs/security.md).

The AI panes run as tmux-ai, the agent as tmux-agent; tmux-ai's packets to the instance metadata
service are rejected before the agent starts, on every boot; the launch template requires IMDSv2
with a hop limit of 1.
"""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tmux_builder.local.cfn_template import Resolver
from tmux_builder.settings import AgentSettings

AGENT_USER, PANE_USER = "tmux-agent", "tmux-ai"
IMDS_V4, IMDS_V6 = "169.254.169.254", "fd00:ec2::254"
FIREWALL_UNIT = "tmux-builder-imds-block.service"


@pytest.fixture(scope="module")
def script(resources: dict[str, Any], aws_resolver: Resolver) -> str:
    data = aws_resolver.resolve(resources["AgentLaunchTemplate"]["Properties"])
    return base64.b64decode(data["LaunchTemplateData"]["UserData"]).decode()


def _heredoc(script: str, target: str) -> str:
    """The body of ``cat > target <<'END' ... END``."""
    match = re.search(rf"^cat > {re.escape(target)} <<'?(\w+)'?\n(.*?)^\1$", script, re.M | re.S)
    assert match, f"no heredoc writes {target}"
    return match.group(2)


def _rules(script: str) -> dict[str, str]:
    return {
        "iptables": _heredoc(script, "/etc/tmux-builder/imds-block.rules"),
        "ip6tables": _heredoc(script, "/etc/tmux-builder/imds-block6.rules"),
    }


def test_the_launch_template_requires_imdsv2_with_hop_limit_one(
    resources: dict[str, Any], aws_resolver: Resolver
) -> None:
    data = aws_resolver.resolve(resources["AgentLaunchTemplate"]["Properties"])
    options = data["LaunchTemplateData"]["MetadataOptions"]
    assert options["HttpTokens"] == "required"
    assert int(options["HttpPutResponseHopLimit"]) == 1


def test_the_agent_and_the_ai_are_different_users(script: str) -> None:
    assert f"useradd --create-home --shell /bin/bash {AGENT_USER}" in script
    assert f"useradd --create-home --shell /usr/sbin/nologin {PANE_USER}" in script
    # The agent shares the session folders through the AI user's group.
    assert f"usermod -aG {PANE_USER} {AGENT_USER}" in script
    assert f"install -d -o {AGENT_USER} -g {PANE_USER} -m 0710 /var/lib/tmux-builder" in script
    agent_unit = _heredoc(script, "/etc/systemd/system/tmux-builder-agent.service")
    assert f"User={AGENT_USER}\n" in agent_unit
    assert "UMask=0007\n" in agent_unit
    env_file = _heredoc(script, "/etc/tmux-builder/agent.env")
    settings = dict(line.split("=", 1) for line in env_file.splitlines())
    assert settings["TMUX_BUILDER_AGENT_PANE_USER"] == PANE_USER
    assert "pane_user" in AgentSettings.model_fields


def test_sudo_lets_the_agent_become_the_ai_user_and_nobody_else(script: str) -> None:
    sudoers = _heredoc(script, "/etc/sudoers.d/tmux-builder").splitlines()
    rules = [line for line in sudoers if not line.startswith(("Defaults", "#")) and line]
    assert rules == [f"{AGENT_USER} ALL=({PANE_USER}) NOPASSWD: /usr/bin/setpriv"]
    assert f"Defaults:{AGENT_USER} !use_pty, umask=0007" in sudoers
    assert "visudo -cf /etc/sudoers.d/tmux-builder" in script
    # sudo cannot run under no-new-privileges; the panes set it themselves (setpriv).
    agent_unit = _heredoc(script, "/etc/systemd/system/tmux-builder-agent.service")
    assert "NoNewPrivileges=yes" not in agent_unit


def test_the_ai_users_packets_to_the_metadata_service_are_rejected(script: str) -> None:
    rules = _rules(script)
    owner = f"-m owner --uid-owner {PANE_USER}"
    assert re.search(
        rf"^-[AI] OUTPUT (1 )?{owner} -d {re.escape(IMDS_V4)}(/32)? -j REJECT$",
        rules["iptables"],
        re.M,
    ), rules["iptables"]
    assert re.search(
        rf"^-[AI] OUTPUT (1 )?{owner} -d {re.escape(IMDS_V6)}(/128)? -j REJECT$",
        rules["ip6tables"],
        re.M,
    ), rules["ip6tables"]


def test_the_firewall_loads_on_every_boot_before_the_agent(script: str) -> None:
    firewall = _heredoc(script, f"/etc/systemd/system/{FIREWALL_UNIT}")
    assert "Type=oneshot" in firewall
    assert "RemainAfterExit=yes" in firewall
    assert "Before=network-pre.target tmux-builder-agent.service" in firewall
    assert "WantedBy=multi-user.target" in firewall
    for tool, rules_file in (("iptables", "imds-block.rules"), ("ip6tables", "imds-block6.rules")):
        assert f"ExecStart=/usr/sbin/{tool}-restore --noflush /etc/tmux-builder/{rules_file}" in (
            firewall
        )
    assert f"systemctl enable --now {FIREWALL_UNIT}" in script
    # Enabled (and loaded) before the agent's service is; the agent refuses to start without it.
    assert script.index(f"enable --now {FIREWALL_UNIT}") < script.index(
        "enable --now tmux-builder-agent.service"
    )
    agent_unit = _heredoc(script, "/etc/systemd/system/tmux-builder-agent.service")
    assert f"Requires={FIREWALL_UNIT}" in agent_unit
    assert re.search(rf"^After=.*\b{re.escape(FIREWALL_UNIT)}", agent_unit, re.M)


@pytest.mark.parametrize("tool", ["iptables", "ip6tables"])
def test_the_rules_are_valid_for_iptables_restore(script: str, tool: str, tmp_path: Path) -> None:
    restore = shutil.which(f"{tool}-restore") or shutil.which(
        f"{tool}-restore", path="/usr/sbin:/sbin"
    )
    if restore is None:
        pytest.skip(f"{tool}-restore is not installed here (apt-get install iptables)")
    # The AI user does not exist on this machine; nobody does, and is as good for the syntax.
    rules = _rules(script)[tool].replace(f"--uid-owner {PANE_USER}", "--uid-owner nobody")
    path = tmp_path / "rules"
    path.write_text(rules)
    result = subprocess.run(
        [restore, "--test", "--noflush", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if result.returncode != 0 and "Permission denied" in result.stderr:
        pytest.skip(f"{tool}-restore --test needs CAP_NET_ADMIN here: {result.stderr.strip()}")
    assert result.returncode == 0, result.stderr
