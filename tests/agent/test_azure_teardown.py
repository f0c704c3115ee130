"""Teardown of Azure sites: the resource group over Resource Manager (replayed at the HTTP
transport), and the embedded stack's Azurite container (real Azurite)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs

import pytest
from pydantic import SecretStr

from control_plane import teardown
from tests.fixtures.azure import SUBSCRIPTION, Replay
from tmux_builder import azure, azure_teardown
from tmux_builder.local.azurite import Azurite, azurite_available, blob_service
from tmux_builder.naming import resource_tags
from tmux_builder.settings import AzureSettings

USER_ID = "0123456789abcdef0123456789abcdef"
OTHER_USER = "fedcba9876543210fedcba9876543210"
SESSION_ID = "sess_20250101T000000_abcdef"
NAME = "tmux-0123456789ab-cafe-abcdef"
TENANT = "99999999-8888-7777-6666-555555555555"
SECRET = "client-secret-" + "not-a-real-one"


def _settings(**extra: str) -> AzureSettings:
    return AzureSettings(
        subscription_id=SUBSCRIPTION,
        tenant_id=TENANT,
        client_id="11111111-2222-3333-4444-555555555555",
        client_secret=SecretStr(SECRET),
        **extra,
    )


def _replay(owner: str = USER_ID) -> Replay:
    return Replay.load(
        "resource_group_delete", name=NAME, tenant=TENANT, owner=owner, session_id=SESSION_ID
    )


def test_the_sites_resource_group_is_deleted_with_an_operator_token() -> None:
    replay = _replay()

    assert azure_teardown.remove_resource_group(
        _settings(), NAME, USER_ID, session=replay.session()
    )

    assert replay.remaining == []
    token, read, delete = replay.sent
    form = parse_qs(token.body.decode())
    assert form["grant_type"] == ["client_credentials"]
    assert form["scope"] == ["https://management.azure.com/.default"]
    assert token.url.startswith(f"https://login.microsoftonline.com/{TENANT}/")
    assert delete.method == "DELETE"
    assert delete.path == f"/subscriptions/{SUBSCRIPTION}/resourcegroups/{NAME}"
    assert {read.headers["Authorization"], delete.headers["Authorization"]} == {
        "Bearer replayed-arm-token"
    }
    assert SECRET not in str(replay.sent[1:])


def test_a_group_tagged_for_another_user_is_left_alone() -> None:
    replay = _replay(owner=OTHER_USER)
    with pytest.raises(azure_teardown.AzureNotOwned):
        azure_teardown.remove_resource_group(_settings(), NAME, USER_ID, session=replay.session())
    assert [r.method for r in replay.sent] == ["POST", "GET"]


def test_a_group_already_gone_counts_as_removed() -> None:
    replay = _replay()
    replay.exchanges[1]["response"] = {"status": 404, "body": {"error": {"code": "NotFound"}}}
    assert not azure_teardown.remove_resource_group(
        _settings(), NAME, USER_ID, session=replay.session()
    )
    assert [r.method for r in replay.sent] == ["POST", "GET"]


def test_missing_credentials_are_reported_by_name() -> None:
    with pytest.raises(azure.AzureConfigError, match="TMUX_BUILDER_AZURE_CLIENT_SECRET"):
        azure.service_principal(AzureSettings(tenant_id=TENANT, client_id="x"))


def test_teardown_never_touches_a_name_outside_the_users_prefix() -> None:
    remover = teardown._REMOVERS[azure.RESOURCE_GROUP]
    with pytest.raises(teardown.NotOwned):
        remover(USER_ID, "tmux-fedcba987654-cafe-abcdef", {}, 0.0)


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    if not azurite_available():
        pytest.skip("Azurite is not installed (npm ci installs it)")
    with Azurite(tmp_path_factory.mktemp("azurite") / "azurite.log") as running:
        yield running


def test_an_azurite_container_is_removed_by_the_control_plane(
    azurite: Azurite, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = blob_service(azurite.blob_endpoint)
    container = service.create_container(
        NAME, metadata=resource_tags(USER_ID, SESSION_ID, "static")
    )
    container.upload_blob("index.html", b"<p>hi</p>")
    monkeypatch.setenv("TMUX_BUILDER_AZURE_BLOB_ENDPOINT", azurite.blob_endpoint)
    # The record's endpoint is ignored: the control plane uses its own setting.
    teardown._REMOVERS[azure.BLOB_CONTAINER](
        USER_ID, NAME, {"blob_endpoint": "http://elsewhere.invalid"}, 0.0
    )
    assert not container.exists()
    assert not azure_teardown.remove_blob_container(
        _settings(blob_endpoint=azurite.blob_endpoint), NAME, USER_ID
    )


def test_an_azurite_container_of_another_user_is_left_alone(azurite: Azurite) -> None:
    name = "tmux-0123456789ab-other-abcdef"
    container = blob_service(azurite.blob_endpoint).create_container(
        name, metadata=resource_tags(OTHER_USER, SESSION_ID, "static")
    )
    with pytest.raises(azure_teardown.AzureNotOwned):
        azure_teardown.remove_blob_container(
            _settings(blob_endpoint=azurite.blob_endpoint), name, USER_ID
        )
    assert container.exists()
