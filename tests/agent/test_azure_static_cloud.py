"""The azure/static deployer on Azure itself, replayed at azure-core's HTTP transport.

Azurite covers the data plane on the embedded stack (test_azure_static.py) but has no Resource
Manager, no account keys and no static-website switch. Here azure-mgmt-storage,
azure-storage-blob and azure-mgmt-cdn run for real over recorded exchanges
(tests/fixtures/azure/storage_account_*.json, static_website_*.json, front_door_*.json) and the
tests assert what was sent: the storage account that was asked for, the key used only against
``*.blob.core.windows.net``, every file's headers, the static website switch, stale blobs
removed, Front Door made once and purged on a redeploy, and Azure's refusals as DeployError.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

import pytest

from agent.deploy import azure_static
from agent.deploy.azure_arm import AzureClients
from agent.deploy.base import DeployOutcome
from agent.deploy.site_files import CACHE_DEFAULT, CACHE_HASHED, CACHE_HTML
from agent.errors import DeployError
from tests.fixtures.azure import SUBSCRIPTION, Replay, SentRequest, StaticToken, transport
from tests.tools import write_built_site
from tmux_builder import azure, naming
from tmux_builder.settings import AzureSettings

USER_ID = "0123456789abcdef0123456789abcdef"
SESSION_ID = "sess_20250101T000000_abcdef"
NAME = "tmux-0123456789ab-cafe-abcdef"
ACCOUNT = naming.azure_storage_account_name(USER_ID, SESSION_ID)
WEB_HOST = f"{ACCOUNT}.z13.web.core.windows.net"
BLOB_HOST = f"{ACCOUNT}.blob.core.windows.net"
FRONT_DOOR_URL = f"https://{NAME}-c4fmd9gbbzf3b6hm.z01.azurefd.net/"
# Storage keys are base64; these two are made up for the recording and only sign requests here.
ACCOUNT_KEY = base64.b64encode(b"replayed account key one, never a real one!!").decode()
SECOND_KEY = base64.b64encode(b"replayed account key two, never a real one!!").decode()
TAGS = naming.resource_tags(USER_ID, SESSION_ID, "static")
PLACES = {
    "rg": NAME,
    "name": NAME,
    "account": ACCOUNT,
    "origin": WEB_HOST,
    "account_key": ACCOUNT_KEY,
    "second_key": SECOND_KEY,
    "user_id": USER_ID,
    "session_id": SESSION_ID,
}
# What each file of the site must be served with (site_files' rules, as S3 gets them too).
HEADERS = {
    "assets/index-B7qZ2m4P.js": ("text/javascript; charset=utf-8", CACHE_HASHED),
    "logo.png": ("image/png", CACHE_DEFAULT),
    "styles.css": ("text/css; charset=utf-8", CACHE_DEFAULT),
    "404.html": ("text/html; charset=utf-8", CACHE_HTML),
    "index.html": ("text/html; charset=utf-8", CACHE_HTML),
}
STALE = ["about.html", "assets/index-Old0ld42.js"]
STORAGE_ACCOUNT_RE = re.compile(r"^[a-z0-9]{3,24}$")


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return write_built_site(tmp_path / "dist")


def _deploy(
    replay: Replay, site: Path, messages: list[str] | None = None, *, cdn: bool = True
) -> DeployOutcome:
    settings = AzureSettings(
        subscription_id=SUBSCRIPTION,
        location="eastus",
        cdn=cdn,
        management_endpoint="https://management.azure.com",
        local_arm=False,
    )
    clients = AzureClients(settings, credential=StaticToken(), transport=transport(replay))
    return azure_static.deploy_to_azure(
        site,
        clients,
        resource_group=naming.azure_resource_group_name(NAME),
        account=ACCOUNT,
        tags=TAGS,
        progress=(messages if messages is not None else []).append,
    )


def _management(replay: Replay) -> list[SentRequest]:
    return [r for r in replay.sent if urlsplit(r.url).hostname == "management.azure.com"]


def _data_plane(replay: Replay) -> list[SentRequest]:
    return [r for r in replay.sent if urlsplit(r.url).hostname == BLOB_HOST]


def _blob_puts(replay: Replay) -> dict[str, SentRequest]:
    prefix = "/%24web/"
    return {
        r.path.removeprefix(prefix): r
        for r in _data_plane(replay)
        if r.method == "PUT" and r.path.startswith(prefix)
    }


def _everything_sent(replay: Replay) -> str:
    return "\n".join(f"{r.url} {r.headers} {r.body!r}" for r in replay.sent)


def test_a_new_site_gets_a_locked_down_account_its_files_and_front_door(site: Path) -> None:
    replay = Replay.load(
        "storage_account_create", "static_website_upload", "front_door_create", **PLACES
    )
    messages: list[str] = []

    outcome = _deploy(replay, site, messages)

    assert replay.remaining == []
    assert outcome.result.url == FRONT_DOOR_URL
    assert (outcome.result.bucket, outcome.result.title, outcome.result.files) == (
        ACCOUNT,
        "Blue Harbour Cafe",
        5,
    )
    (resource,) = outcome.resources
    assert (resource.type, resource.id) == (azure.RESOURCE_GROUP, NAME)
    assert resource.metadata == {
        "subscription_id": SUBSCRIPTION,
        "location": "eastus",
        "storage_account": ACCOUNT,
    }

    # The account asked for: StorageV2, HTTPS only, TLS 1.2, no anonymous blob access.
    create = next(r for r in replay.sent if r.method == "PUT" and "/storageAccounts/" in r.path)
    where = re.fullmatch(
        r"/subscriptions/[^/]+/resourceGroups/([^/]+)/providers/Microsoft\.Storage"
        r"/storageAccounts/([^/]+)",
        create.path,
    )
    assert where is not None, create.path
    group, account = where.groups()
    assert (group, account) == (NAME, ACCOUNT)
    assert STORAGE_ACCOUNT_RE.match(account), "Azure takes 3-24 lowercase letters and digits"
    body = create.json()
    assert body["kind"] == "StorageV2"
    assert body["sku"] == {"name": "Standard_LRS"}
    assert body["location"] == "eastus"
    assert body["tags"] == TAGS
    assert body["properties"] == {
        "supportsHttpsTrafficOnly": True,
        "allowBlobPublicAccess": False,
        "minimumTlsVersion": "TLS1_2",
    }

    # Every file once, with its content type and cache rule, its bytes as on disk; pages last.
    puts = _blob_puts(replay)
    assert list(puts) == list(HEADERS)
    for key, (content_type, cache_control) in HEADERS.items():
        sent = puts[key]
        assert sent.headers["x-ms-blob-type"] == "BlockBlob"
        assert sent.headers["x-ms-blob-content-type"] == content_type, key
        assert sent.headers["x-ms-blob-cache-control"] == cache_control, key
        assert sent.body == (site / key).read_bytes()
    assert not any(r.method == "DELETE" for r in replay.sent)
    assert any(f"Created storage account {ACCOUNT}" in m for m in messages)

    # Front Door: made once, in front of the static-website host; nothing to purge yet.
    cdn = [r for r in replay.sent if "/Microsoft.Cdn/" in r.path]
    assert [r.path.rsplit("/", 2)[-2] for r in cdn if r.method == "PUT"] == [
        "profiles",
        "afdEndpoints",
        "originGroups",
        "origins",
        "routes",
    ]
    origin = next(r.json() for r in cdn if r.method == "PUT" and "/origins/" in r.path)
    assert origin["properties"]["hostName"] == WEB_HOST
    assert not any(r.method == "POST" for r in cdn)


def test_the_static_website_is_switched_on_before_the_files_go_up(site: Path) -> None:
    replay = Replay.load(
        "storage_account_create", "static_website_upload", "front_door_create", **PLACES
    )

    _deploy(replay, site)

    data = _data_plane(replay)
    switch = data[0]
    assert (switch.method, switch.path, switch.query) == (
        "PUT",
        "/",
        {"restype": "service", "comp": "properties"},
    )
    website = ElementTree.fromstring(switch.body).find("StaticWebsite")
    assert website is not None
    assert {child.tag: child.text for child in website} == {
        "Enabled": "true",
        "IndexDocument": "index.html",
        "ErrorDocument404Path": "404.html",
    }


def test_the_account_key_signs_the_data_plane_only(site: Path) -> None:
    replay = Replay.load(
        "storage_account_create", "static_website_upload", "front_door_create", **PLACES
    )
    messages: list[str] = []

    outcome = _deploy(replay, site, messages)

    management, data = _management(replay), _data_plane(replay)
    assert len(management) + len(data) == len(replay.sent)
    assert all(r.headers["Authorization"] == "Bearer replayed-token" for r in management)
    # The key is read once, through Resource Manager, and never sent back to it.
    assert [r.path.rsplit("/", 1)[-1] for r in management if r.method == "POST"] == ["listKeys"]
    assert data, "no data-plane request was sent"
    for request in data:
        assert urlsplit(request.url).scheme == "https"
        assert request.headers["Authorization"].startswith(f"SharedKey {ACCOUNT}:")
    # A shared-key signature, never the key itself, and nowhere a report or a record keeps it.
    assert ACCOUNT_KEY not in _everything_sent(replay)
    assert ACCOUNT_KEY not in repr(outcome) + "\n".join(messages)


def test_a_redeploy_reuses_the_account_removes_stale_blobs_and_purges(site: Path) -> None:
    replay = Replay.load(
        "storage_account_reuse", "static_website_redeploy", "front_door_reuse", **PLACES
    )
    messages: list[str] = []

    outcome = _deploy(replay, site, messages)

    assert replay.remaining == []
    assert outcome.result.url == FRONT_DOOR_URL
    assert not any(
        r.method == "PUT" and ("/storageAccounts/" in r.path or "/Microsoft.Cdn/" in r.path)
        for r in replay.sent
    )
    assert list(_blob_puts(replay)) == list(HEADERS)
    deletes = [r for r in replay.sent if r.method == "DELETE"]
    assert [r.path for r in deletes] == [f"/%24web/{name}" for name in STALE]
    assert all(r.headers["x-ms-delete-snapshots"] == "include" for r in deletes)
    # Stale blobs go only after every new file is up, so the old pages never link to nothing.
    assert replay.sent.index(deletes[0]) > max(
        replay.sent.index(r) for r in _blob_puts(replay).values()
    )
    purge = next(r for r in replay.sent if r.method == "POST" and r.path.endswith("/purge"))
    assert purge.json() == {"contentPaths": ["/*"]}
    assert replay.sent.index(purge) > replay.sent.index(deletes[-1])
    assert f"Reusing storage account {ACCOUNT}" in messages
    assert "Removed 2 files that are no longer part of the site" in messages


def test_without_the_cdn_the_static_website_endpoint_is_the_url(site: Path) -> None:
    replay = Replay.load("storage_account_create", "static_website_upload", **PLACES)

    outcome = _deploy(replay, site, cdn=False)

    assert replay.remaining == []
    assert outcome.result.url == f"https://{WEB_HOST}/"
    assert not any("/Microsoft.Cdn/" in r.path for r in replay.sent)


def _refuse(replay: Replay, index: int, status: int, code: str, message: str) -> None:
    replay.exchanges[index]["response"] = {
        "status": status,
        "body": {"error": {"code": code, "message": message}},
    }


@pytest.mark.parametrize(
    ("index", "status", "code", "message", "reported"),
    [
        (
            0,
            403,
            "AuthorizationFailed",
            "The client 'x' does not have authorization to perform action "
            "'Microsoft.Resources/subscriptions/resourcegroups/read'.",
            f"Reading resource group {NAME} failed: AuthorizationFailed: The client 'x'",
        ),
        (
            3,
            409,
            "StorageAccountAlreadyTaken",
            f"The storage account named {ACCOUNT} is already taken.",
            f"Creating storage account {ACCOUNT} failed: StorageAccountAlreadyTaken: "
            f"The storage account named {ACCOUNT} is already taken.",
        ),
        (  # the creation was accepted, then failed: its operation's answer says why
            4,
            409,
            "StorageAccountOperationFailed",
            "The subscription has reached its limit of storage accounts in eastus.",
            f"Creating storage account {ACCOUNT} failed: StorageAccountOperationFailed: "
            "The subscription has reached its limit",
        ),
        (
            5,
            409,
            "ScopeLocked",
            f"The scope '{ACCOUNT}' cannot perform write operation because of a lock.",
            f"Reading the access key of storage account {ACCOUNT} failed: ScopeLocked",
        ),
    ],
    ids=["group-read-denied", "name-taken", "creation-failed", "keys-locked"],
)
def test_a_resource_manager_refusal_is_a_deploy_error_with_its_reason(
    site: Path, index: int, status: int, code: str, message: str, reported: str
) -> None:
    replay = Replay.load("storage_account_create", "static_website_upload", **PLACES)
    _refuse(replay, index, status, code, message)

    with pytest.raises(DeployError) as raised:
        _deploy(replay, site, cdn=False)

    assert reported in str(raised.value)
    assert "Traceback" not in str(raised.value)
    assert ACCOUNT_KEY not in str(raised.value)
    assert len(replay.sent) == index + 1  # nothing after the refusal
    assert _data_plane(replay) == []


def test_a_data_plane_refusal_is_a_deploy_error_with_its_reason(site: Path) -> None:
    replay = Replay.load("storage_account_create", "static_website_upload", **PLACES)
    upload = next(
        e for e in replay.exchanges if e["request"]["path"] == "/%24web/assets/index-B7qZ2m4P.js"
    )
    upload["response"] = {
        "status": 403,
        "headers": {"x-ms-error-code": "AuthorizationFailure", "Content-Type": "application/xml"},
        "body": '<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthorizationFailure</Code>'
        "<Message>This request is not authorized to perform this operation.\n"
        "RequestId:0f0e</Message></Error>",
    }

    with pytest.raises(
        DeployError, match=f"Uploading the site to {ACCOUNT} failed: AuthorizationFailure"
    ):
        _deploy(replay, site, cdn=False)


def test_an_account_without_a_key_is_refused(site: Path) -> None:
    replay = Replay.load("storage_account_create", "static_website_upload", **PLACES)
    replay.exchanges[5]["response"]["body"] = {"keys": []}

    with pytest.raises(DeployError, match=f"storage account {ACCOUNT} returned no access key"):
        _deploy(replay, site, cdn=False)
    assert _data_plane(replay) == []


def test_another_users_resource_group_is_left_alone(site: Path) -> None:
    replay = Replay.load("storage_account_reuse", **PLACES)
    body: dict[str, Any] = replay.exchanges[0]["response"]["body"]
    body["tags"] = naming.resource_tags("fedcba9876543210fedcba9876543210", SESSION_ID, "static")

    with pytest.raises(DeployError, match="not this user's site"):
        _deploy(replay, site)
    assert [r.method for r in replay.sent] == ["GET"]
