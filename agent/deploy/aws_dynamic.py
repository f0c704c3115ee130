"""Put a dynamic site live on one EC2 instance, the same way on every (re)deploy.

Every resource of the site is named ``tmux-{prefix}-{slug}`` (the site's resource name) and
tagged like every other resource of the user:

- the private S3 bucket of that name holds the release, ``code/`` packed as a gzipped tar at
  :data:`~tmux_builder.dynamic_site.RELEASE_KEY` (the user's role cannot read the artifacts
  bucket, and the instance reads only its own site's release);
- an instance role and instance profile of that name; the role's one inline policy allows
  ``s3:GetObject`` on that release and nothing else, and only EC2 may assume it;
- a security group of that name in the default VPC, open to the world on TCP 80 and 443 only
  (any other rule found on it is revoked);
- the instance, launched with that profile and group, IMDSv2 only, and user-data
  (:func:`tmux_builder.dynamic_site.render_user_data`) that installs a systemd service which
  fetches the current release at every start and runs ``npm start`` on port 80.

A redeploy uploads the new release and reboots the same instance (started again if it was
stopped): the service fetches the new release as it starts, and the URL stays the same. No
agent on the instance, no SSM, no SSH: the instance needs nothing but read access to its
release. If the instance this call launched does not come up, it is terminated before the
error is raised; a retry reuses the bucket, role, profile and group, and launches anew. Each
resource is handed to the caller's ``record`` as soon as it exists or is found (the launched
instance too, even when it is terminated again): a failed first deploy leaks nothing.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.deploy.aws_errors import aws_errors, describe, error_code
from agent.deploy.aws_static import RecordedResources, ensure_bucket
from agent.deploy.base import DeployOutcome, DeployRequest, SiteResource, not_recorded
from agent.deploy.site_files import page_title
from agent.edge import InstanceEndpoints
from agent.errors import DeployError
from tmux_builder.contracts import DeployResult
from tmux_builder.dynamic_site import (
    ENTRY_PAGE,
    INSTANCE_PORT,
    PACKAGE_FILE,
    RELEASE_KEY,
    SiteConfig,
    render_user_data,
)

if TYPE_CHECKING:
    import boto3

RESOURCE_INSTANCE = "ec2_instance"
RESOURCE_SECURITY_GROUP = "ec2_security_group"
RESOURCE_INSTANCE_PROFILE = "iam_instance_profile"
RESOURCE_INSTANCE_ROLE = "iam_instance_role"

OPEN_PORTS = (80, 443)
ROLE_POLICY_NAME = "read-site-release"
AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
# States in which an instance is still the site's (terminated ones are history).
LIVE_STATES = ("pending", "running", "stopping", "stopped")
_SKIP_DIRS = {"node_modules", ".git", "__pycache__", ".pytest_cache"}
_RELEASE_MAX_BYTES = 100 * 1024 * 1024


def deploy(request: DeployRequest) -> DeployOutcome:
    """The deployer for aws/dynamic (see :mod:`agent.deploy.base`).

    What the instance is and how it is reached are the agent host's settings: no Lambda
    function launches instances.
    """
    settings = request.settings
    return deploy_dynamic_site(
        request.aws_session(),
        request.code_dir,
        name=request.site.resource_name,
        tags=request.tags,
        endpoints=InstanceEndpoints.from_settings(settings.instance_host),
        progress=request.progress,
        launch_key=request.execution_id,
        instance_type=settings.site_instance_type,
        image_id=settings.site_instance_ami,
        role_boundary=settings.site_instance_boundary_arn,
        record=request.record,
    )


def deploy_dynamic_site(
    session: boto3.Session,
    code_dir: Path,
    *,
    name: str,
    tags: dict[str, str],
    endpoints: InstanceEndpoints,
    progress: Callable[[str], None],
    launch_key: str,
    instance_type: str = "t3.micro",
    image_id: str = "",
    role_boundary: str = "",
    wait_timeout_s: float = 600.0,
    poll_interval_s: float = 5.0,
    profile_wait_s: float = 90.0,
    record: Callable[[SiteResource], None] = not_recorded,
) -> DeployOutcome:
    """Ship ``code_dir`` to the site's instance (launching it the first time); say where it is.

    ``launch_key`` (the execution id) makes a repeated launch of one deploy the same launch.
    ``role_boundary`` is the permissions boundary the instance role is created with (the
    user's policy allows creating a role only with the stack's site-instance boundary).
    """
    release, files = package_release(code_dir)
    title = page_title(code_dir / ENTRY_PAGE)
    region = session.region_name or "us-east-1"
    partition = session.get_partition_for_region(region)
    recorded = RecordedResources(record)
    with aws_errors(f"Deploying {name}"):  # what the steps below do not catch (e.g. no credentials)
        s3 = session.client("s3", region_name=region)
        ec2 = session.client("ec2", region_name=region)
        iam = session.client("iam", region_name=region)

        ensure_bucket(s3, name, region, tags, progress, recorded.add)
        upload_release(s3, name, release, progress)
        ensure_instance_role(
            iam, name, partition, tags, progress, role_boundary, record=recorded.add
        )
        ensure_instance_profile(iam, name, tags, progress, record=recorded.add)
        vpc_id = default_vpc(ec2)
        group_id = ensure_security_group(ec2, name, vpc_id, tags, progress, record=recorded.add)

        found = find_instance(ec2, name, tags["UserGUID"])
        launched: str | None = None
        if found is not None:
            instance_id = str(found["InstanceId"])
            recorded.add(_instance_resource(instance_id, region, name))
            restart_with_new_release(ec2, found, progress)
        else:
            config = SiteConfig(bucket=name, key=RELEASE_KEY, region=region, port=INSTANCE_PORT)
            instance_id = launch_instance(
                ec2,
                name=name,
                image_id=image_id or latest_ami(session, region),
                instance_type=instance_type,
                group_id=group_id,
                user_data=render_user_data(config),
                tags=tags,
                client_token=_client_token(ec2, name, tags["UserGUID"], launch_key),
                progress=progress,
                profile_wait_s=profile_wait_s,
            )
            recorded.add(_instance_resource(instance_id, region, name))
            launched = instance_id
        try:
            instance = wait_running(ec2, instance_id, progress, wait_timeout_s, poll_interval_s)
            url = endpoints.url_for(instance_id, str(instance.get("PublicDnsName") or ""))
        except BaseException:
            if launched:
                terminate_launched(ec2, launched, progress)
            raise

    progress(f"Site live at {url}")
    result = DeployResult(url=url, bucket=name, title=title, files=files)
    # Newest first: the instance, then its group, profile, role and bucket (as teardown goes).
    return DeployOutcome(result=result, resources=recorded.resources[::-1])


def _instance_resource(instance_id: str, region: str, name: str) -> SiteResource:
    return SiteResource(RESOURCE_INSTANCE, instance_id, {"region": region, "name": name})


# --- the release ------------------------------------------------------------------------------


def package_release(code_dir: Path) -> tuple[bytes, int]:
    """``code_dir`` as a gzipped tar (file count too); checks the dynamic-site contract first.

    Dependency folders are left out (the instance installs from ``package-lock.json``), and so
    are symlinks leading outside the folder: it is written by the AI, and a link to a host
    file must not be shipped.
    """
    check_app(code_dir)
    root = code_dir.resolve()
    buffer = io.BytesIO()
    count = 0
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
            for filename in sorted(filenames):
                path = Path(dirpath) / filename
                real = path.resolve()
                if not real.is_file() or not real.is_relative_to(root):
                    continue
                archive.add(real, arcname=path.relative_to(root).as_posix(), recursive=False)
                count += 1
    data = buffer.getvalue()
    if len(data) > _RELEASE_MAX_BYTES:
        raise DeployError(f"the app in {code_dir} is {len(data) // 2**20} MiB packed; limit 100")
    return data, count


def check_app(code_dir: Path) -> None:
    """``index.html`` and a ``package.json`` whose ``start`` script runs the server."""
    if not code_dir.is_dir():
        raise DeployError(f"code folder {code_dir} does not exist")
    if not (code_dir / ENTRY_PAGE).is_file():
        raise DeployError(f"code folder {code_dir} has no {ENTRY_PAGE}")
    package = code_dir / PACKAGE_FILE
    if not package.is_file():
        raise DeployError(f"code folder {code_dir} has no {PACKAGE_FILE}: `npm start` needs one")
    try:
        document = json.loads(package.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise DeployError(f"{PACKAGE_FILE} of {code_dir} is not valid JSON: {exc}") from exc
    scripts = document.get("scripts") if isinstance(document, dict) else None
    start = scripts.get("start") if isinstance(scripts, dict) else None
    if not isinstance(start, str) or not start.strip():
        raise DeployError(f"{PACKAGE_FILE} of {code_dir} has no scripts.start")


def upload_release(s3: Any, bucket: str, release: bytes, progress: Callable[[str], None]) -> None:
    with aws_errors(f"Uploading the release to {bucket}"):
        s3.put_object(Bucket=bucket, Key=RELEASE_KEY, Body=release, ContentType="application/gzip")
    progress(f"Uploaded the release ({len(release) // 1024 + 1} KiB) to {bucket}")


# --- IAM: the instance's role and profile ----------------------------------------------------


def _trust_policy() -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "ec2.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )


def release_read_policy(bucket: str, partition: str) -> str:
    """The instance may read its own site's release, nothing else."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ReadOwnRelease",
                    "Effect": "Allow",
                    "Action": "s3:GetObject",
                    "Resource": f"arn:{partition}:s3:::{bucket}/{RELEASE_KEY}",
                }
            ],
        }
    )


def _iam_tags(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def _check_owner(kind: str, name: str, found: list[dict[str, str]], tags: dict[str, str]) -> None:
    owner = {t["Key"]: t["Value"] for t in found}.get("UserGUID")
    if owner is not None and owner != tags.get("UserGUID"):
        raise DeployError(f"{kind} {name} exists but is not this user's site (UserGUID differs)")


def ensure_instance_role(
    iam: Any,
    name: str,
    partition: str,
    tags: dict[str, str],
    progress: Callable[[str], None],
    boundary: str = "",
    *,
    record: Callable[[SiteResource], None],
) -> str:
    """The role EC2 assumes for the site's instance; its policy is (re)set every deploy.

    A new role gets ``boundary`` (when set) as its permissions boundary, so that it can never
    do more than the boundary allows, whatever its inline policy says. The role is recorded
    before its policy is set (that call can fail).
    """
    from botocore.exceptions import ClientError

    try:
        role = iam.get_role(RoleName=name)["Role"]
    except ClientError as exc:
        if error_code(exc) != "NoSuchEntity":
            raise DeployError(f"Reading role {name} failed: {describe(exc)}") from exc
        create: dict[str, Any] = {"PermissionsBoundary": boundary} if boundary else {}
        with aws_errors(f"Creating role {name}"):
            role = iam.create_role(
                RoleName=name,
                AssumeRolePolicyDocument=_trust_policy(),
                Description="tmux-builder: the site instance reads its own release",
                MaxSessionDuration=3600,
                Tags=_iam_tags(tags),
                **create,
            )["Role"]
        progress(f"Created instance role {name}")
    else:
        _check_owner("role", name, role.get("Tags", []), tags)
    record(SiteResource(RESOURCE_INSTANCE_ROLE, name, {"arn": str(role["Arn"])}))
    with aws_errors(f"Setting the policy of role {name}"):
        iam.put_role_policy(
            RoleName=name,
            PolicyName=ROLE_POLICY_NAME,
            PolicyDocument=release_read_policy(name, partition),
        )
    return str(role["Arn"])


def ensure_instance_profile(
    iam: Any,
    name: str,
    tags: dict[str, str],
    progress: Callable[[str], None],
    *,
    record: Callable[[SiteResource], None],
) -> str:
    """The profile of the same name, holding the role of the same name.

    The profile is recorded before the role is added to it (that call can fail).
    """
    from botocore.exceptions import ClientError

    try:
        profile = iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]
    except ClientError as exc:
        if error_code(exc) != "NoSuchEntity":
            raise DeployError(f"Reading instance profile {name} failed: {describe(exc)}") from exc
        with aws_errors(f"Creating instance profile {name}"):
            profile = iam.create_instance_profile(InstanceProfileName=name, Tags=_iam_tags(tags))[
                "InstanceProfile"
            ]
        progress(f"Created instance profile {name}")
    else:
        _check_owner("instance profile", name, profile.get("Tags", []), tags)
    record(SiteResource(RESOURCE_INSTANCE_PROFILE, name, {"arn": str(profile["Arn"])}))
    if name not in {r["RoleName"] for r in profile.get("Roles", [])}:
        with aws_errors(f"Adding role {name} to its instance profile"):
            iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)
    return str(profile["Arn"])


# --- EC2: network and instance --------------------------------------------------------------


def default_vpc(ec2: Any) -> str:
    with aws_errors("Finding the default VPC"):
        vpcs = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]
    if not vpcs:
        raise DeployError(
            "the account has no default VPC in this region: dynamic sites are launched into it"
        )
    return str(vpcs[0]["VpcId"])


def wanted_ingress() -> list[dict[str, Any]]:
    """TCP 80 and 443 from anywhere (IPv4 and IPv6); nothing else reaches the instance."""
    return [
        {
            "IpProtocol": "tcp",
            "FromPort": port,
            "ToPort": port,
            "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "web"}],
            "Ipv6Ranges": [{"CidrIpv6": "::/0", "Description": "web"}],
        }
        for port in OPEN_PORTS
    ]


def _rule_keys(permissions: list[dict[str, Any]]) -> set[tuple[str, int, int, str]]:
    keys = set()
    for p in permissions:
        protocol, low, high = str(p.get("IpProtocol")), p.get("FromPort", -1), p.get("ToPort", -1)
        for r in p.get("IpRanges", []):
            keys.add((protocol, int(low), int(high), r["CidrIp"]))
        for r in p.get("Ipv6Ranges", []):
            keys.add((protocol, int(low), int(high), r["CidrIpv6"]))
        for g in p.get("UserIdGroupPairs", []):
            keys.add((protocol, int(low), int(high), f"sg:{g.get('GroupId')}"))
        for pl in p.get("PrefixListIds", []):
            keys.add((protocol, int(low), int(high), f"pl:{pl.get('PrefixListId')}"))
    return keys


def _permission(key: tuple[str, int, int, str]) -> dict[str, Any]:
    protocol, low, high, source = key
    permission: dict[str, Any] = {"IpProtocol": protocol, "FromPort": low, "ToPort": high}
    if source.startswith("sg:"):
        permission["UserIdGroupPairs"] = [{"GroupId": source[3:]}]
    elif source.startswith("pl:"):
        permission["PrefixListIds"] = [{"PrefixListId": source[3:]}]
    elif ":" in source:
        permission["Ipv6Ranges"] = [{"CidrIpv6": source}]
    else:
        permission["IpRanges"] = [{"CidrIp": source}]
    return permission


def ensure_security_group(
    ec2: Any,
    name: str,
    vpc_id: str,
    tags: dict[str, str],
    progress: Callable[[str], None],
    *,
    record: Callable[[SiteResource], None],
) -> str:
    """The site's group with exactly :func:`wanted_ingress` (extra rules are revoked).

    The group is recorded before its rules are set (those calls can fail).
    """
    from botocore.exceptions import ClientError

    group = find_security_group(ec2, name, vpc_id)
    if group is None:
        try:
            group_id = ec2.create_security_group(
                GroupName=name,
                Description=f"tmux-builder site {name}: HTTP and HTTPS only",
                VpcId=vpc_id,
                TagSpecifications=[
                    {"ResourceType": "security-group", "Tags": _iam_tags({**tags, "Name": name})}
                ],
            )["GroupId"]
        except ClientError as exc:
            if error_code(exc) != "InvalidGroup.Duplicate":
                raise DeployError(
                    f"Creating security group {name} failed: {describe(exc)}"
                ) from exc
            group = find_security_group(ec2, name, vpc_id)
            if group is None:
                raise DeployError(f"security group {name} exists but cannot be found") from exc
        else:
            progress(f"Created security group {name} ({group_id})")
            group = {"GroupId": group_id, "IpPermissions": [], "Tags": []}
    else:
        _check_owner("security group", name, group.get("Tags", []), tags)
    group_id = str(group["GroupId"])
    region = str(ec2.meta.region_name)
    record(
        SiteResource(
            RESOURCE_SECURITY_GROUP, group_id, {"region": region, "name": name, "vpc_id": vpc_id}
        )
    )
    have, want = _rule_keys(group.get("IpPermissions", [])), _rule_keys(wanted_ingress())
    with aws_errors(f"Setting the rules of security group {name}"):
        if have - want:
            ec2.revoke_security_group_ingress(
                GroupId=group_id, IpPermissions=[_permission(k) for k in sorted(have - want)]
            )
            progress(f"Removed {len(have - want)} rules from {name}: only 80 and 443 stay open")
        if want - have:
            ec2.authorize_security_group_ingress(
                GroupId=group_id, IpPermissions=[_permission(k) for k in sorted(want - have)]
            )
    return group_id


def find_security_group(ec2: Any, name: str, vpc_id: str) -> dict[str, Any] | None:
    with aws_errors(f"Finding security group {name}"):
        groups = ec2.describe_security_groups(
            Filters=[
                {"Name": "group-name", "Values": [name]},
                {"Name": "vpc-id", "Values": [vpc_id]},
            ]
        )["SecurityGroups"]
    return dict(groups[0]) if groups else None


def latest_ami(session: boto3.Session, region: str) -> str:
    """The current Amazon Linux 2023 image, from AWS's public SSM parameter."""
    ssm = session.client("ssm", region_name=region)
    with aws_errors("Looking up the Amazon Linux 2023 image"):
        return str(ssm.get_parameter(Name=AMI_PARAMETER)["Parameter"]["Value"])


def _site_instances(ec2: Any, name: str, user_id: str, states: tuple[str, ...]) -> list[Any]:
    with aws_errors(f"Finding the instance of {name}"):
        pages = ec2.get_paginator("describe_instances").paginate(
            Filters=[
                {"Name": "tag:Name", "Values": [name]},
                {"Name": "tag:UserGUID", "Values": [user_id]},
                {"Name": "instance-state-name", "Values": list(states)},
            ]
        )
        return [i for page in pages for r in page["Reservations"] for i in r["Instances"]]


def find_instance(ec2: Any, name: str, user_id: str) -> dict[str, Any] | None:
    """The site's live instance (the oldest, should there ever be two)."""
    found = _site_instances(ec2, name, user_id, LIVE_STATES)
    found.sort(key=lambda i: (str(i.get("LaunchTime", "")), i["InstanceId"]))
    return dict(found[0]) if found else None


def _client_token(ec2: Any, name: str, user_id: str, launch_key: str) -> str:
    """The same for a repeated launch of one deploy; new after a failed launch was terminated."""
    gone = _site_instances(ec2, name, user_id, ("shutting-down", "terminated"))
    seed = f"{name}:{launch_key}:{len(gone)}"
    return hashlib.sha256(seed.encode()).hexdigest()[:64]


def launch_instance(
    ec2: Any,
    *,
    name: str,
    image_id: str,
    instance_type: str,
    group_id: str,
    user_data: str,
    tags: dict[str, str],
    client_token: str,
    progress: Callable[[str], None],
    profile_wait_s: float,
) -> str:
    """RunInstances; a new instance profile takes a few seconds to be usable, so that is retried."""
    from botocore.exceptions import ClientError

    instance_tags = _iam_tags({**tags, "Name": name})
    request = {
        "ImageId": image_id,
        "InstanceType": instance_type,
        "MinCount": 1,
        "MaxCount": 1,
        "ClientToken": client_token,
        "IamInstanceProfile": {"Name": name},
        "SecurityGroupIds": [group_id],
        "UserData": user_data,
        "MetadataOptions": {"HttpTokens": "required", "HttpEndpoint": "enabled"},
        "TagSpecifications": [
            {"ResourceType": "instance", "Tags": instance_tags},
            {"ResourceType": "volume", "Tags": instance_tags},
        ],
    }
    deadline = time.monotonic() + profile_wait_s
    while True:
        try:
            instance = ec2.run_instances(**request)["Instances"][0]
        except ClientError as exc:
            message = str(exc.response.get("Error", {}).get("Message", ""))
            profile_not_ready = error_code(exc) == "InvalidParameterValue" and (
                "iamInstanceProfile" in message or "Instance Profile" in message
            )
            if profile_not_ready and time.monotonic() < deadline:
                progress("Waiting for the new instance profile to be usable")
                time.sleep(5)
                continue
            raise DeployError(f"Launching the instance of {name} failed: {describe(exc)}") from exc
        progress(f"Launched instance {instance['InstanceId']} ({instance_type})")
        return str(instance["InstanceId"])


def restart_with_new_release(
    ec2: Any, instance: dict[str, Any], progress: Callable[[str], None]
) -> None:
    """Reboot (or start) the site's instance: its service fetches the new release as it starts."""
    instance_id = str(instance["InstanceId"])
    state = str(instance.get("State", {}).get("Name", ""))
    with aws_errors(f"Restarting instance {instance_id}"):
        if state == "stopping":
            ec2.get_waiter("instance_stopped").wait(InstanceIds=[instance_id])
            state = "stopped"
        if state == "stopped":
            ec2.start_instances(InstanceIds=[instance_id])
            progress(f"Starting instance {instance_id} with the new release")
        elif state == "running":
            ec2.reboot_instances(InstanceIds=[instance_id])
            progress(f"Rebooting instance {instance_id} into the new release")
        else:
            progress(f"Instance {instance_id} is {state}; it fetches the new release as it starts")


def wait_running(
    ec2: Any,
    instance_id: str,
    progress: Callable[[str], None],
    timeout_s: float,
    interval_s: float,
) -> dict[str, Any]:
    """Poll until the instance is running; a terminated or stopped one is an error."""
    started = time.monotonic()
    while True:
        with aws_errors(f"Reading instance {instance_id}"):
            reservations = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
        instance = dict(reservations[0]["Instances"][0])
        state = str(instance.get("State", {}).get("Name", ""))
        if state == "running":
            progress(f"Instance {instance_id} is running")
            return instance
        if state in ("shutting-down", "terminated", "stopped"):
            reason = instance.get("StateReason", {}).get("Message", "")
            raise DeployError(f"instance {instance_id} is {state}: {reason}".rstrip(": "))
        waited = time.monotonic() - started
        if waited >= timeout_s:
            raise DeployError(f"instance {instance_id} still {state} after {waited:.0f}s")
        progress(f"Instance {instance_id} is {state}; waited {waited:.0f}s")
        time.sleep(min(interval_s, max(timeout_s - waited, 0.0)))


def terminate_launched(ec2: Any, instance_id: str, progress: Callable[[str], None]) -> None:
    """Best effort, never hiding the error that got us here."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        ec2.terminate_instances(InstanceIds=[instance_id])
    except (ClientError, BotoCoreError) as exc:
        progress(f"Could not terminate instance {instance_id} after the failure: {exc}")
        return
    progress(f"Terminated instance {instance_id}, launched by this failed deploy")
