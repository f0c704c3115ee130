"""The azure/dynamic deployer, replayed at azure-core's HTTP transport.

There is no Azure emulator: azure-mgmt-network and azure-mgmt-compute run for real over
recorded exchanges (tests/fixtures/azure/vm_*.json), and the tests assert what was sent:
one resource group, an NSG open on 80/443 only, SSH key (never a password), the app in
cloud-init custom data, and the tags.
"""

from __future__ import annotations

import base64
import io
import json
import os
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.deploy import azure_vm
from agent.deploy.azure_arm import AzureClients
from agent.deploy.base import SiteResource
from agent.errors import DeployError
from tests.fixtures.azure import SUBSCRIPTION, Replay, StaticToken, transport
from tmux_builder import azure
from tmux_builder.naming import resource_tags
from tmux_builder.settings import AzureSettings

USER_ID = "0123456789abcdef0123456789abcdef"
SESSION_ID = "sess_20250101T000000_abcdef"
NAME = "tmux-0123456789ab-guestbook-abcdef"
TAGS = resource_tags(USER_ID, SESSION_ID, "dynamic")
PLACES = {"name": NAME, "user_id": USER_ID, "session_id": SESSION_ID}


@pytest.fixture
def code(tmp_path: Path) -> Path:
    root = tmp_path / "code"
    (root / "node_modules" / "left-out").mkdir(parents=True)
    (root / "index.html").write_text("<html><head><title>Guestbook</title></head></html>")
    (root / "server.js").write_text("require('http').createServer().listen(process.env.PORT)")
    (root / "package.json").write_text(json.dumps({"scripts": {"start": "node server.js"}}))
    (root / "node_modules" / "left-out" / "index.js").write_text("//")
    return root


def _deploy(replay: Replay, code: Path, messages: list[str] | None = None, **kwargs: Any):
    messages = [] if messages is None else messages
    settings = AzureSettings(subscription_id=SUBSCRIPTION, location="eastus")
    clients = AzureClients(settings, credential=StaticToken(), transport=transport(replay))
    return azure_vm.deploy_vm_site(
        code, clients, name=NAME, tags=TAGS, progress=messages.append, **kwargs
    )


def _refuse(replay: Replay, method: str, kind: str) -> None:
    """The recorded answer to the first ``method`` request on ``kind`` becomes a refusal."""
    exchange = next(
        e
        for e in replay.exchanges
        if e["request"]["method"] == method and e["request"]["path"].endswith(kind)
    )
    exchange["response"] = {
        "status": 403,
        "body": {"error": {"code": "AuthorizationFailed", "message": "not allowed"}},
    }


class Recorder:
    """Keeps what the deployer recorded, and how many requests had been sent by then."""

    def __init__(self, replay: Replay) -> None:
        self.replay = replay
        self.records: list[tuple[SiteResource, int]] = []

    def __call__(self, resource: SiteResource) -> None:
        self.records.append((resource, len(self.replay.sent)))


def _put(replay: Replay, kind: str) -> dict:
    return next(r.json() for r in replay.sent if r.method == "PUT" and f"/{kind}/" in r.path)


def test_a_new_site_gets_its_group_network_and_vm(code: Path) -> None:
    replay = Replay.load("vm_create", **PLACES)
    recorder = Recorder(replay)

    outcome = _deploy(replay, code, record=recorder)

    assert replay.remaining == []
    # Recorded right after the group's PUT (the 2nd request), before anything in it was made.
    ((recorded, sent_before),) = recorder.records
    assert sent_before == 2 and replay.sent[1].method == "PUT"
    assert recorded == SiteResource(
        azure.RESOURCE_GROUP,
        NAME,
        {"subscription_id": SUBSCRIPTION, "location": "eastus", "vm": NAME},
    )
    assert outcome.resources[0].metadata == {
        **recorded.metadata,
        "fqdn": f"{NAME}.eastus.cloudapp.azure.com",
    }
    assert outcome.result.url == f"http://{NAME}.eastus.cloudapp.azure.com/"
    assert outcome.result.title == "Guestbook"
    assert [(r.type, r.id) for r in outcome.resources] == [(azure.RESOURCE_GROUP, NAME)]
    # One resource group holds everything; every PUT carries the site's tags.
    assert all(
        r.path.lower().startswith(f"/subscriptions/{SUBSCRIPTION}/resourcegroups/{NAME}".lower())
        or "/operations/" in r.path
        for r in replay.sent
    )
    puts = [r.json() for r in replay.sent if r.method == "PUT"]
    assert len(puts) == 6
    assert all(body["tags"] == TAGS for body in puts)

    rules = _put(replay, "networkSecurityGroups")["properties"]["securityRules"]
    assert sorted(
        (
            r["properties"]["direction"],
            r["properties"]["access"],
            r["properties"]["protocol"],
            r["properties"]["destinationPortRange"],
        )
        for r in rules
    ) == [("Inbound", "Allow", "Tcp", "443"), ("Inbound", "Allow", "Tcp", "80")]
    subnet = _put(replay, "virtualNetworks")["properties"]["subnets"][0]["properties"]
    assert subnet["networkSecurityGroup"]["id"].endswith(f"/networkSecurityGroups/{NAME}-nsg")

    vm = next(r for r in replay.sent if r.method == "PUT" and "/virtualMachines/" in r.path)
    assert "adminPassword" not in vm.body.decode()
    assert b"PRIVATE KEY" not in b"".join(r.body for r in replay.sent)
    profile = vm.json()["properties"]["osProfile"]
    linux = profile["linuxConfiguration"]
    assert linux["disablePasswordAuthentication"] is True
    (key,) = linux["ssh"]["publicKeys"]
    assert key["path"] == "/home/azureuser/.ssh/authorized_keys"
    assert key["keyData"].startswith("ssh-rsa ")

    config = base64.b64decode(profile["customData"]).decode()
    assert config.startswith("#cloud-config\n")
    document = yaml.safe_load(config)
    files = {f["path"]: f for f in document["write_files"]}
    release = base64.b64decode(files[azure_vm.RELEASE_PATH]["content"])
    with tarfile.open(fileobj=io.BytesIO(release)) as archive:
        assert sorted(archive.getnames()) == ["index.html", "package.json", "server.js"]
    unit = files["/etc/systemd/system/tmux-builder-site.service"]["content"]
    assert "ExecStart=/usr/bin/npm start" in unit
    assert "Environment=PORT=80" in unit
    assert ["systemctl", "enable", "--now", "tmux-builder-site.service"] in document["runcmd"]


def test_a_redeploy_sends_the_release_to_the_same_vm(code: Path) -> None:
    replay = Replay.load("vm_redeploy", stdout=azure_vm.HEALTHY_MARKER, **PLACES)
    (code / "index.html").write_text("<html><head><title>Guestbook v2</title></head></html>")
    messages: list[str] = []

    outcome = _deploy(replay, code, messages)

    assert replay.remaining == []
    assert outcome.result.url == f"http://{NAME}.eastus.cloudapp.azure.com/"
    assert not any(r.method == "PUT" and "/virtualMachines/" in r.path for r in replay.sent)
    command = next(r for r in replay.sent if r.path.endswith("/runCommand")).json()
    assert command["commandId"] == "RunShellScript"
    script = command["script"]
    start, end = (
        script.index(f"base64 -d > {azure_vm.RELEASE_PATH} <<'RELEASE'"),
        script.index("RELEASE"),
    )
    release = base64.b64decode("".join(script[start + 1 : end]))
    with tarfile.open(fileobj=io.BytesIO(release)) as archive:
        page = archive.extractfile("index.html")
        assert page is not None and b"Guestbook v2" in page.read()
    assert "systemctl restart tmux-builder-site.service" in script
    assert any("restarted the site" in m for m in messages)


def test_a_release_that_does_not_come_up_fails_the_deploy(code: Path) -> None:
    replay = Replay.load("vm_redeploy", stdout="npm ERR! missing script: start", **PLACES)
    with pytest.raises(DeployError, match="did not start on VM"):
        _deploy(replay, code)


def test_a_resource_group_of_another_user_is_left_alone(code: Path) -> None:
    other = resource_tags("fedcba9876543210fedcba9876543210", SESSION_ID, "dynamic")
    replay = Replay.load("vm_redeploy", stdout="", **PLACES)
    replay.exchanges[0]["response"]["body"]["tags"] = other
    recorder = Recorder(replay)
    with pytest.raises(DeployError, match="not this user's site"):
        _deploy(replay, code, record=recorder)
    assert [r.method for r in replay.sent] == ["GET"]
    assert recorder.records == []  # never handed to teardown as this user's


@pytest.mark.parametrize(
    ("method", "kind"),
    [
        ("PUT", "/networkSecurityGroups/{name}-nsg"),
        ("PUT", "/publicIPAddresses/{name}-ip"),
        ("PUT", "/virtualMachines/{name}"),
    ],
)
def test_a_failed_first_deploy_has_recorded_its_resource_group(
    code: Path, method: str, kind: str
) -> None:
    replay = Replay.load("vm_create", **PLACES)
    _refuse(replay, method, kind.format(name=NAME))
    recorder = Recorder(replay)

    with pytest.raises(DeployError, match="AuthorizationFailed"):
        _deploy(replay, code, record=recorder)

    assert replay.sent[-1].path.endswith(kind.format(name=NAME))  # it failed where it should
    ((recorded, sent_before),) = recorder.records
    assert (recorded.type, recorded.id) == (azure.RESOURCE_GROUP, NAME)
    assert sent_before == 2  # right after the group was created


def test_a_found_group_is_recorded_before_it_is_updated(code: Path) -> None:
    replay = Replay.load("vm_redeploy", stdout=azure_vm.HEALTHY_MARKER, **PLACES)
    _refuse(replay, "PUT", f"/resourcegroups/{NAME}")
    recorder = Recorder(replay)

    with pytest.raises(DeployError, match="AuthorizationFailed"):
        _deploy(replay, code, record=recorder)

    ((recorded, sent_before),) = recorder.records
    assert (recorded.type, recorded.id) == (azure.RESOURCE_GROUP, NAME)
    assert sent_before == 1  # the GET that found it ours, not yet the PUT


def test_an_app_too_large_for_custom_data_is_refused() -> None:
    with pytest.raises(DeployError, match="64 KiB"):
        azure_vm.cloud_init(os.urandom(60_000))


def test_the_ssh_key_is_new_each_time_and_public_only() -> None:
    first, second = azure_vm.new_ssh_public_key(), azure_vm.new_ssh_public_key()
    assert first != second
    assert first.startswith("ssh-rsa ") and "PRIVATE" not in first
