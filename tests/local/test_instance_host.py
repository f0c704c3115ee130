"""The instance host: the app of a moto instance runs as a local process, follows its release,
and stops when the instance does (or the host does)."""

from __future__ import annotations

import io
import os
import tarfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from agent.deploy.aws_dynamic import AMI_PARAMETER
from tmux_builder.dynamic_site import RELEASE_KEY, SiteConfig, render_user_data
from tmux_builder.local.instance_host import InstanceHost, InstanceHostError
from tmux_builder.local.moto_server import MotoServer, aws_client
from tmux_builder.naming import resource_tags
from tmux_builder.offline_model.dynamic_app_writer import write_dynamic_site
from tmux_builder.offline_model.site_design import design_site

BUCKET = "tmux-0123456789ab-instance-host"
TAGS = resource_tags("0123456789abcdef0123456789abcdef", "sess_20250101T000000_abcdef", "dynamic")


def _release(requirements: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for relative, content in write_dynamic_site(design_site(requirements)).items():
            data = content.encode()
            info = tarfile.TarInfo(relative.removeprefix("code/"))
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def host(moto_server: MotoServer, tmp_path: Path) -> Iterator[InstanceHost]:
    with InstanceHost(tmp_path, moto_server.endpoint_url, watch_interval_s=0.1) as running:
        yield running


def _instance(endpoint: str, tags: dict[str, str]) -> str:
    s3, ec2 = aws_client("s3", endpoint), aws_client("ec2", endpoint)
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key=RELEASE_KEY, Body=_release("A bakery named Golden Loaf"))
    user_data = render_user_data(SiteConfig(bucket=BUCKET, key=RELEASE_KEY, region="us-east-1"))
    image = aws_client("ssm", endpoint).get_parameter(Name=AMI_PARAMETER)["Parameter"]["Value"]
    answer = ec2.run_instances(
        ImageId=image,
        MinCount=1,
        MaxCount=1,
        UserData=user_data,
        TagSpecifications=[
            {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
        ],
    )
    return str(answer["Instances"][0]["InstanceId"])


def _eventually(check: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not check():
        time.sleep(0.05)
    return check()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_an_instance_runs_its_release_follows_redeploys_and_stops_with_it(
    host: InstanceHost, moto_server: MotoServer
) -> None:
    instance_id = _instance(moto_server.endpoint_url, TAGS)
    answer = requests.post(f"{host.control_url}/instances/{instance_id}", timeout=30)
    assert answer.status_code == 200, answer.text
    url, first_pid = answer.json()["url"], host.apps()[instance_id].pid
    assert "Golden Loaf" in requests.get(url, timeout=5).text
    assert requests.get(url + "healthz", timeout=5).json() == {"status": "ok"}

    assert host.run(instance_id).pid == first_pid  # same release: nothing restarts

    aws_client("s3", moto_server.endpoint_url).put_object(
        Bucket=BUCKET, Key=RELEASE_KEY, Body=_release("A tea room named Oolong House")
    )
    redeployed = host.run(instance_id)
    assert redeployed.url == url and redeployed.pid != first_pid
    assert "Oolong House" in requests.get(url, timeout=5).text
    assert _eventually(lambda: not _alive(first_pid))

    aws_client("ec2", moto_server.endpoint_url).terminate_instances(InstanceIds=[instance_id])
    assert _eventually(lambda: instance_id not in host.apps())
    assert not _alive(redeployed.pid)
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=2)
    refused = requests.post(f"{host.control_url}/instances/{instance_id}", timeout=10)
    assert refused.status_code == 409 and "terminated" in refused.json()["error"]


def test_only_existing_tagged_instances_are_run(
    host: InstanceHost, moto_server: MotoServer
) -> None:
    missing = requests.post(f"{host.control_url}/instances/i-0123456789abcdef0", timeout=10)
    assert missing.status_code == 404
    stranger = _instance(moto_server.endpoint_url, {"Project": "someone-else"})
    with pytest.raises(InstanceHostError, match="not a tmux-builder site"):
        host.run(stranger)


def test_stopping_the_host_leaves_no_process(moto_server: MotoServer, tmp_path: Path) -> None:
    host = InstanceHost(tmp_path, moto_server.endpoint_url).start()
    try:
        pid = host.run(_instance(moto_server.endpoint_url, TAGS)).pid
    finally:
        host.stop()
    assert _eventually(lambda: not _alive(pid))
