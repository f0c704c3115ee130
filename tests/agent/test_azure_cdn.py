"""Front Door for an Azure static site, replayed at azure-core's HTTP transport.

No Azure emulator exists: the SDK runs for real over recorded exchanges
(tests/fixtures/azure/front_door_*.json) and the tests assert the requests it sent.
"""

from __future__ import annotations

import pytest

from agent.deploy.azure_arm import AzureClients
from agent.deploy.azure_cdn import ensure_front_door
from agent.errors import DeployError
from tests.fixtures.azure import Replay, StaticToken, transport
from tmux_builder.naming import resource_tags
from tmux_builder.settings import AzureSettings

USER_ID = "0123456789abcdef0123456789abcdef"
SESSION_ID = "sess_20250101T000000_abcdef"
NAME = "tmux-0123456789ab-cafe-abcdef"
ORIGIN = "t0123456789ab2qmkag0a1c3t.z13.web.core.windows.net"
TAGS = resource_tags(USER_ID, SESSION_ID, "static")
PLACES = {"rg": NAME, "name": NAME, "origin": ORIGIN, "user_id": USER_ID, "session_id": SESSION_ID}


def _clients(replay: Replay) -> AzureClients:
    settings = AzureSettings(subscription_id="00000000-1111-2222-3333-444444444444")
    return AzureClients(settings, credential=StaticToken(), transport=transport(replay))


def test_a_new_site_gets_profile_endpoint_origin_and_route() -> None:
    replay = Replay.load("front_door_create", **PLACES)
    messages: list[str] = []

    site = ensure_front_door(_clients(replay), NAME, NAME, ORIGIN, TAGS, messages.append)

    assert replay.remaining == []
    assert site.created is True
    assert site.url == f"https://{NAME}-c4fmd9gbbzf3b6hm.z01.azurefd.net/"
    puts = {r.path.rsplit("/", 2)[-2]: r.json() for r in replay.sent if r.method == "PUT"}
    assert puts["profiles"]["sku"] == {"name": "Standard_AzureFrontDoor"}
    assert puts["profiles"]["tags"] == TAGS
    assert puts["afdEndpoints"]["tags"] == TAGS
    origin = puts["origins"]["properties"]
    assert (origin["hostName"], origin["originHostHeader"]) == (ORIGIN, ORIGIN)
    assert origin["enforceCertificateNameCheck"] is True
    route = puts["routes"]["properties"]
    assert route["patternsToMatch"] == ["/*"]
    assert route["httpsRedirect"] == "Enabled"
    assert route["forwardingProtocol"] == "HttpsOnly"
    assert route["originGroup"]["id"].endswith(f"/profiles/{NAME}/originGroups/site")
    assert all(r.headers["Authorization"] == "Bearer replayed-token" for r in replay.sent)
    assert all(f"/resourceGroups/{NAME}/" in r.path for r in replay.sent)
    assert not any(r.method == "POST" for r in replay.sent)  # nothing to purge yet


def test_a_redeploy_reuses_everything_and_purges_the_cache() -> None:
    replay = Replay.load("front_door_reuse", **PLACES)
    messages: list[str] = []

    site = ensure_front_door(_clients(replay), NAME, NAME, ORIGIN, TAGS, messages.append)

    assert replay.remaining == []
    assert site.created is False
    assert not any(r.method == "PUT" for r in replay.sent)
    purge = next(r for r in replay.sent if r.method == "POST")
    assert purge.path.endswith(f"/afdEndpoints/{NAME}/purge")
    assert purge.json() == {"contentPaths": ["/*"]}
    assert any("Purged the Front Door cache" in m for m in messages)


def test_an_azure_error_is_a_deploy_error_with_the_service_message() -> None:
    replay = Replay.load("front_door_create", **PLACES)
    refused = replay.exchanges[1]["response"]
    refused.update(
        status=400,
        body={"error": {"code": "BadRequest", "message": "Profile name is already in use."}},
    )
    with pytest.raises(DeployError, match="BadRequest: Profile name is already in use"):
        ensure_front_door(_clients(replay), NAME, NAME, ORIGIN, TAGS, lambda _m: None)
