"""The azure/static deployer against real Azurite, served by the real local site server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from agent.deploy import azure_static
from agent.deploy.base import SiteResource
from agent.deploy.site_files import CACHE_DEFAULT, CACHE_HASHED, CACHE_HTML
from agent.edge import Edge
from agent.errors import DeployError
from tests.tools import write_built_site
from tmux_builder import azure
from tmux_builder.local.azurite import Azurite, azurite_available, blob_service
from tmux_builder.local.site_server import SiteServer
from tmux_builder.naming import resource_tags

USER_ID = "0123456789abcdef0123456789abcdef"
OTHER_USER = "fedcba9876543210fedcba9876543210"
SESSION_ID = "sess_20250101T000000_abcdef"
TAGS = resource_tags(USER_ID, SESSION_ID, "static")

pytestmark = pytest.mark.skipif(
    not azurite_available(), reason="Azurite is not installed (npm ci installs it)"
)


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    with Azurite(tmp_path_factory.mktemp("azurite") / "azurite.log") as running:
        yield running


@pytest.fixture(scope="module")
def edge(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    # The site server needs an AWS endpoint for distributions; containers never use it.
    server = SiteServer(
        tmp_path_factory.mktemp("sites"),
        "http://127.0.0.1:9",
        region="us-east-1",
        azure_blob_endpoint=azurite.blob_endpoint,
    )
    with server:
        yield Edge(site_server=server.control_url)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return write_built_site(tmp_path / "dist")


def _deploy(azurite: Azurite, edge: Edge, site: Path, container: str, tags=TAGS, record=None):
    messages: list[str] = []
    outcome = azure_static.deploy_to_azurite(
        site,
        container=container,
        blob_endpoint=azurite.blob_endpoint,
        tags=tags,
        edge=edge,
        progress=messages.append,
        **({"record": record} if record else {}),
    )
    return outcome, messages


def test_a_site_is_served_from_its_container_with_types_and_cache_rules(
    azurite: Azurite, edge: Edge, site: Path
) -> None:
    container = "tmux-0123456789ab-cafe-abcdef"
    recorded: list[SiteResource] = []
    outcome, messages = _deploy(azurite, edge, site, container, record=recorded.append)
    assert recorded == outcome.resources

    assert outcome.result.title == "Blue Harbour Cafe"
    assert outcome.result.files == 5
    assert [(r.type, r.id) for r in outcome.resources] == [(azure.BLOB_CONTAINER, container)]
    assert outcome.resources[0].metadata["blob_endpoint"] == azurite.blob_endpoint
    assert any("Site live at" in m for m in messages)

    home = requests.get(outcome.result.url, timeout=5)
    assert home.status_code == 200
    assert home.headers["Content-Type"] == "text/html; charset=utf-8"
    assert home.headers["Cache-Control"] == CACHE_HTML
    assert "fresh bread" in home.text
    script = requests.get(outcome.result.url.rstrip("/") + "/assets/index-B7qZ2m4P.js", timeout=5)
    assert script.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert script.headers["Cache-Control"] == CACHE_HASHED
    css = requests.get(outcome.result.url.rstrip("/") + "/styles.css", timeout=5)
    assert (css.headers["Content-Type"], css.headers["Cache-Control"]) == (
        "text/css; charset=utf-8",
        CACHE_DEFAULT,
    )
    missing = requests.get(outcome.result.url.rstrip("/") + "/nope.html", timeout=5)
    assert missing.status_code == 404
    assert "lost" in missing.text

    metadata = blob_service(azurite.blob_endpoint).get_container_client(container)
    assert metadata.get_container_properties().metadata["UserGUID"] == USER_ID


def test_a_redeploy_keeps_the_url_and_removes_stale_files(
    azurite: Azurite, edge: Edge, site: Path
) -> None:
    container = "tmux-0123456789ab-redeploy-abcdef"
    first, _ = _deploy(azurite, edge, site, container)
    (site / "styles.css").unlink()
    (site / "index.html").write_text("<html><head><title>v2</title></head><body>v2</body></html>")

    second, messages = _deploy(azurite, edge, site, container)

    assert second.result.url == first.result.url
    assert second.resources == first.resources
    assert "Removed 1 files that are no longer part of the site" in messages
    assert "Reusing blob container " + container in messages
    assert "v2" in requests.get(second.result.url, timeout=5).text
    assert requests.get(second.result.url.rstrip("/") + "/styles.css", timeout=5).status_code == 404
    names = set(
        blob_service(azurite.blob_endpoint).get_container_client(container).list_blob_names()
    )
    assert names == {"index.html", "404.html", "assets/index-B7qZ2m4P.js", "logo.png"}


def test_another_users_container_is_never_written(azurite: Azurite, edge: Edge, site: Path) -> None:
    container = "tmux-0123456789ab-taken-abcdef"
    blob_service(azurite.blob_endpoint).create_container(
        container, metadata=resource_tags(OTHER_USER, SESSION_ID, "static")
    )
    recorded: list[SiteResource] = []
    with pytest.raises(DeployError, match="not this user's site"):
        _deploy(azurite, edge, site, container, record=recorded.append)
    assert recorded == []  # never handed to teardown as this user's
    names = list(
        blob_service(azurite.blob_endpoint).get_container_client(container).list_blob_names()
    )
    assert names == []


def test_a_found_container_is_recorded_before_the_upload_that_fails(
    azurite: Azurite, edge: Edge, site: Path
) -> None:
    """As a deploy that died before it recorded left it: the user's container, one blob in it,
    here leased by someone, so that Azurite refuses the overwrite (412) half way."""
    container = "tmux-0123456789ab-halfway-abcdef"
    client = blob_service(azurite.blob_endpoint).get_container_client(container)
    client.create_container(metadata=TAGS)
    client.upload_blob("index.html", b"old").acquire_lease(lease_duration=-1)
    recorded: list[SiteResource] = []

    with pytest.raises(DeployError, match="LeaseIdMissing"):
        _deploy(azurite, edge, site, container, record=recorded.append)

    assert [(r.type, r.id) for r in recorded] == [(azure.BLOB_CONTAINER, container)]


def test_a_site_without_an_index_page_is_refused(
    azurite: Azurite, edge: Edge, tmp_path: Path
) -> None:
    (tmp_path / "about.html").write_text("<p>no index</p>")
    with pytest.raises(DeployError, match="index.html"):
        _deploy(azurite, edge, tmp_path, "tmux-0123456789ab-empty-abcdef")
