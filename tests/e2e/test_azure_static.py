"""An azure/static site on one machine: `tmux-builder up` with Azurite, a build through all nine
steps, the site served from its blob container, then teardown removing that container."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.launcher import ROOT, clean_environment, cli
from tmux_builder.api_client import ApiClient
from tmux_builder.local.azurite import azurite_available, blob_service

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.tmux,
    pytest.mark.claude,
    pytest.mark.browser,
    pytest.mark.skipif(not azurite_available(), reason="Azurite is not installed (npm ci)"),
]
REQUIREMENTS = "A bakery website for Blue Harbour Bakery with opening hours"


@pytest.fixture(scope="module")
def stack(shared_stack: dict[str, Any]) -> dict[str, Any]:
    return shared_stack


def test_an_azure_static_site_goes_live_from_azurite(stack: dict[str, Any], tmp_path: Path) -> None:
    assert stack["azure_blob_endpoint"], "the stack did not start Azurite"
    built = subprocess.run(
        cli(
            "--state-dir",
            str(stack["state_dir"]),
            "build",
            REQUIREMENTS,
            "--provider",
            "azure",
            "--output-dir",
            str(tmp_path),
        ),
        cwd=ROOT,
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    logs = "\n".join(p.read_text() for p in (stack["state_dir"] / "logs").glob("*.log"))
    assert built.returncode == 0, f"{built.stdout}\n{built.stderr}\n--- logs ---\n{logs[-4000:]}"

    execution_id = built.stdout.split("Build ", 1)[1].split()[0]
    api = ApiClient(stack["api_url"], token=stack["admin_token"])
    status = api.status(execution_id)
    assert status["status"] == "succeeded"
    assert [s["status"] for s in status["steps"]] == ["succeeded"] * 9
    assert status["e2e"]["ok"] is True

    page = requests.get(status["deployed_url"], timeout=10)
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "Blue Harbour" in page.text

    # The site is a container of Azurite's account, named like every resource of the user.
    service = blob_service(stack["azure_blob_endpoint"])
    prefix = f"tmux-{status['user_id'][:12]}-"
    (container,) = [c.name for c in service.list_containers() if c.name.startswith(prefix)]
    assert "index.html" in set(service.get_container_client(container).list_blob_names())

    # Teardown removes it with the control plane's (operator's) settings.
    deleted = requests.delete(
        f"{stack['api_url']}/api/admin/sessions/{status['session_id']}",
        headers={"Authorization": f"Bearer {stack['admin_token']}"},
        timeout=60,
    )
    assert deleted.status_code < 300, deleted.text
    removed = {(r["resource_type"], r["resource_id"]) for r in deleted.json()["removed"]}
    assert ("azure_blob_container", container) in removed
    assert not service.get_container_client(container).exists()
