"""Put a built static site live on S3 + CloudFront, the same way on every (re)deploy.

One private bucket per site (Block Public Access on, readable only by its own distribution
through an Origin Access Control) and one distribution per bucket, found again by its
``Comment`` (the bucket name). A redeploy uploads the new files, removes the ones that are
gone, and invalidates the distribution: the URL never changes, and nothing new is created.

Every call is idempotent. Each resource is handed to the caller's ``record`` the moment it
exists or is found (a first deploy that fails half way leaves nothing unrecorded), and the
returned resources are all the site's, not only the ones this call created.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.deploy.aws_errors import aws_errors, describe, error_code
from agent.deploy.base import DeployOutcome, DeployRequest, SiteResource, not_recorded
from agent.deploy.site_files import INDEX_DOCUMENT, SiteFile, page_title, site_files
from agent.errors import DeployError
from tmux_builder.contracts import DeployResult

if TYPE_CHECKING:
    import boto3

    from agent.edge import Edge

RESOURCE_BUCKET = "s3_bucket"
RESOURCE_DISTRIBUTION = "cloudfront_distribution"
RESOURCE_ORIGIN_ACCESS_CONTROL = "cloudfront_oac"

# AWS managed cache policy "CachingOptimized": honours the origin's Cache-Control within
# 1 s .. 1 year, so no-cache HTML is fresh after a redeploy while hashed assets stay cached.
CACHING_OPTIMIZED_POLICY_ID = "658327ea-f89d-4fab-a63d-7e88639e58f6"

_DELETE_BATCH = 1000


@dataclass
class RecordedResources:
    """The resources of one deploy in the order they came to exist, each recorded at once.

    Why: ``record`` is called before the resource is kept here, so that from the moment a
    resource exists no later failure of the deploy can keep it from teardown.
    """

    record: Callable[[SiteResource], None]
    resources: list[SiteResource] = field(default_factory=list)

    def add(self, resource: SiteResource) -> None:
        self.record(resource)
        self.resources.append(resource)


def deploy(request: DeployRequest) -> DeployOutcome:
    """The deployer for aws/static (see :mod:`agent.deploy.base`)."""
    return deploy_static_site(
        request.aws_session(),
        request.site_dir,
        bucket=request.site.resource_name,
        tags=request.tags,
        edge=request.edge,
        progress=request.progress,
        record=request.record,
    )


def deploy_static_site(
    session: boto3.Session,
    site_dir: Path,
    bucket: str,
    tags: dict[str, str],
    edge: Edge,
    progress: Callable[[str], None],
    *,
    wait_timeout_s: float = 1200.0,
    poll_interval_s: float = 15.0,
    record: Callable[[SiteResource], None] = not_recorded,
) -> DeployOutcome:
    """Upload ``site_dir`` to ``bucket`` behind its CloudFront distribution; return where it is.

    ``wait_timeout_s`` bounds the wait for the distribution to be Deployed (minutes on AWS,
    immediate on moto); running out raises :class:`DeployError`, and a retry picks up the same
    distribution. ``record`` gets the bucket, the origin access control and the distribution
    each as soon as it exists.
    """
    files = site_files(site_dir, progress)
    title = page_title(site_dir / INDEX_DOCUMENT)
    region = session.region_name or "us-east-1"
    recorded = RecordedResources(record)
    # What the steps below do not catch themselves (e.g. no credentials).
    with aws_errors(f"Deploying {bucket}"):
        s3 = session.client("s3", region_name=region)
        cloudfront = session.client("cloudfront", region_name="us-east-1")

        ensure_bucket(s3, bucket, region, tags, progress, recorded.add)
        upload_files(s3, bucket, files, progress)
        remove_stale_objects(s3, bucket, {f.key for f in files}, progress)

        oac_id = ensure_origin_access_control(cloudfront, bucket)
        recorded.add(SiteResource(RESOURCE_ORIGIN_ACCESS_CONTROL, oac_id, {"name": bucket}))
        distribution, created = ensure_distribution(
            cloudfront, bucket, _origin_domain(bucket, region), oac_id, tags, progress
        )
        recorded.add(
            SiteResource(
                RESOURCE_DISTRIBUTION,
                distribution["Id"],
                {"arn": distribution["ARN"], "domain_name": distribution["DomainName"]},
            )
        )
        allow_distribution_reads(s3, bucket, distribution["ARN"])
        if not created:
            invalidate_all(cloudfront, distribution["Id"], progress)
        distribution = wait_deployed(
            cloudfront, distribution["Id"], progress, wait_timeout_s, poll_interval_s
        )

    url = edge.url_for(distribution["Id"], distribution["DomainName"])
    progress(f"Site live at {url}")
    result = DeployResult(
        url=url,
        bucket=bucket,
        distribution_id=distribution["Id"],
        title=title,
        files=len(files),
    )
    return DeployOutcome(result=result, resources=recorded.resources)


# --- S3 -----------------------------------------------------------------------------------------


def ensure_bucket(
    s3: Any,
    bucket: str,
    region: str,
    tags: dict[str, str],
    progress: Callable[[str], None],
    record: Callable[[SiteResource], None] = not_recorded,
) -> None:
    """Create the bucket, or reuse it if it is this user's; private and tagged either way.

    The bucket is recorded once it is known to be ours, before the calls that can still fail.
    """
    if bucket_exists(s3, bucket):
        check_bucket_is_ours(s3, bucket, tags)
        progress(f"Reusing bucket {bucket}")
    else:
        create_bucket(s3, bucket, region)
        progress(f"Created bucket {bucket}")
    record(SiteResource(RESOURCE_BUCKET, bucket, {"region": region}))
    with aws_errors(f"Blocking public access on {bucket}"):
        s3.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
    if not tags:
        return
    with aws_errors(f"Tagging bucket {bucket}"):
        s3.put_bucket_tagging(
            Bucket=bucket,
            Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in sorted(tags.items())]},
        )


def bucket_exists(s3: Any, bucket: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status == 404 or error_code(exc) in ("404", "NoSuchBucket", "NotFound"):
            return False
        if status == 403:
            raise DeployError(
                f"bucket {bucket} exists and is not accessible (owned by another account?)"
            ) from exc
        raise DeployError(f"Checking bucket {bucket} failed: {describe(exc)}") from exc
    return True


def check_bucket_is_ours(s3: Any, bucket: str, tags: dict[str, str]) -> None:
    """A bucket tagged for another project or user is never written to.

    An untagged bucket of this name is taken as ours: names ``tmux-{prefix}-*`` belong to the
    user, and a deploy that died between CreateBucket and PutBucketTagging leaves exactly that.
    """
    from botocore.exceptions import ClientError

    try:
        tag_set = s3.get_bucket_tagging(Bucket=bucket)["TagSet"]
    except ClientError as exc:
        if error_code(exc) == "NoSuchTagSet":
            return
        raise DeployError(f"Reading tags of bucket {bucket} failed: {describe(exc)}") from exc
    existing = {t["Key"]: t["Value"] for t in tag_set}
    for key in ("Project", "UserGUID"):
        if key in tags and existing.get(key) != tags[key]:
            raise DeployError(
                f"bucket {bucket} exists but is not this user's site ({key} tag differs)"
            )


def create_bucket(s3: Any, bucket: str, region: str) -> None:
    from botocore.exceptions import ClientError

    kwargs: dict[str, Any] = {"Bucket": bucket}
    if region != "us-east-1":  # us-east-1 rejects an explicit LocationConstraint
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        s3.create_bucket(**kwargs)
    except ClientError as exc:
        if error_code(exc) == "BucketAlreadyOwnedByYou":
            return
        raise DeployError(f"Creating bucket {bucket} failed: {describe(exc)}") from exc


def upload_files(
    s3: Any, bucket: str, files: list[SiteFile], progress: Callable[[str], None]
) -> None:
    progress(f"Uploading {len(files)} files to {bucket}")
    for number, site_file in enumerate(files, start=1):
        with aws_errors(f"Uploading {site_file.key}"), site_file.path.open("rb") as body:
            s3.put_object(
                Bucket=bucket,
                Key=site_file.key,
                Body=body,
                ContentType=site_file.content_type,
                CacheControl=site_file.cache_control,
            )
        if number % 50 == 0:
            progress(f"Uploaded {number}/{len(files)} files")
    progress(f"Uploaded {len(files)} files")


def existing_keys(s3: Any, bucket: str) -> set[str]:
    keys: set[str] = set()
    with aws_errors(f"Listing {bucket}"):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys.update(obj["Key"] for obj in page.get("Contents", []))
    return keys


def remove_stale_objects(
    s3: Any, bucket: str, keep: set[str], progress: Callable[[str], None]
) -> list[str]:
    """Delete what an earlier deploy left that the new build no longer has."""
    stale = sorted(existing_keys(s3, bucket) - keep)
    for start in range(0, len(stale), _DELETE_BATCH):
        batch = stale[start : start + _DELETE_BATCH]
        with aws_errors(f"Removing stale objects from {bucket}"):
            response = s3.delete_objects(
                Bucket=bucket,
                Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True},
            )
        if response.get("Errors"):
            first = response["Errors"][0]
            raise DeployError(
                f"Removing stale objects from {bucket} failed: "
                f"{first.get('Key')}: {first.get('Code')}: {first.get('Message', '')}"
            )
    if stale:
        progress(f"Removed {len(stale)} files that are no longer part of the site")
    return stale


def allow_distribution_reads(s3: Any, bucket: str, distribution_arn: str) -> None:
    """The OAC bucket policy: only this distribution, via the CloudFront service, may read."""
    partition = distribution_arn.split(":")[1] if distribution_arn.count(":") >= 5 else "aws"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowCloudFrontServicePrincipalReadOnly",
                "Effect": "Allow",
                "Principal": {"Service": "cloudfront.amazonaws.com"},
                "Action": "s3:GetObject",
                "Resource": f"arn:{partition}:s3:::{bucket}/*",
                "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}},
            }
        ],
    }
    with aws_errors(f"Setting the bucket policy of {bucket}"):
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))


# --- CloudFront ---------------------------------------------------------------------------------


def _origin_domain(bucket: str, region: str) -> str:
    if region == "us-east-1":
        return f"{bucket}.s3.amazonaws.com"
    return f"{bucket}.s3.{region}.amazonaws.com"


def ensure_origin_access_control(cloudfront: Any, bucket: str) -> str:
    """The site's OAC, named after the bucket (names are unique per account)."""
    from botocore.exceptions import ClientError

    existing = _find_origin_access_control(cloudfront, bucket)
    if existing:
        return existing
    try:
        response = cloudfront.create_origin_access_control(
            OriginAccessControlConfig={
                "Name": bucket,
                "Description": f"tmux-builder site {bucket}",
                "SigningProtocol": "sigv4",
                "SigningBehavior": "always",
                "OriginAccessControlOriginType": "s3",
            }
        )
    except ClientError as exc:
        if error_code(exc) == "OriginAccessControlAlreadyExists":
            found = _find_origin_access_control(cloudfront, bucket)
            if found:
                return found
        raise DeployError(f"Creating the origin access control failed: {describe(exc)}") from exc
    return str(response["OriginAccessControl"]["Id"])


def _find_origin_access_control(cloudfront: Any, name: str) -> str | None:
    with aws_errors("Listing origin access controls"):
        for page in cloudfront.get_paginator("list_origin_access_controls").paginate():
            for item in page.get("OriginAccessControlList", {}).get("Items", []) or []:
                if item.get("Name") == name:
                    return str(item["Id"])
    return None


def find_distribution(cloudfront: Any, bucket: str) -> dict[str, Any] | None:
    """The distribution whose Comment is the bucket name: one per site, found again on redeploy."""
    with aws_errors("Listing CloudFront distributions"):
        for page in cloudfront.get_paginator("list_distributions").paginate():
            for item in page.get("DistributionList", {}).get("Items", []) or []:
                if item.get("Comment") == bucket:
                    return dict(item)
    return None


def ensure_distribution(
    cloudfront: Any,
    bucket: str,
    origin_domain: str,
    oac_id: str,
    tags: dict[str, str],
    progress: Callable[[str], None],
) -> tuple[dict[str, Any], bool]:
    """(distribution summary, created?). CallerReference = bucket makes a racing create fail."""
    from botocore.exceptions import ClientError

    found = find_distribution(cloudfront, bucket)
    if found:
        progress(f"Reusing CloudFront distribution {found['Id']}")
        return found, False
    config = distribution_config(bucket, origin_domain, oac_id)
    try:
        response = cloudfront.create_distribution_with_tags(
            DistributionConfigWithTags={
                "DistributionConfig": config,
                "Tags": {"Items": [{"Key": k, "Value": v} for k, v in sorted(tags.items())]},
            }
        )
    except ClientError as exc:
        if error_code(exc) == "DistributionAlreadyExists":
            found = find_distribution(cloudfront, bucket)
            if found:
                return found, False
        raise DeployError(f"Creating the CloudFront distribution failed: {describe(exc)}") from exc
    distribution = response["Distribution"]
    progress(f"Created CloudFront distribution {distribution['Id']}")
    return dict(distribution), True


def distribution_config(bucket: str, origin_domain: str, oac_id: str) -> dict[str, Any]:
    origin_id = f"s3-{bucket}"
    methods = {"Quantity": 2, "Items": ["GET", "HEAD"]}
    return {
        "CallerReference": bucket,
        "Comment": bucket,
        "Enabled": True,
        "DefaultRootObject": INDEX_DOCUMENT,
        "PriceClass": "PriceClass_100",
        "HttpVersion": "http2and3",
        "IsIPV6Enabled": True,
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": origin_id,
                    "DomainName": origin_domain,
                    "OriginPath": "",
                    "S3OriginConfig": {"OriginAccessIdentity": ""},
                    "OriginAccessControlId": oac_id,
                }
            ],
        },
        "DefaultCacheBehavior": {
            "TargetOriginId": origin_id,
            "ViewerProtocolPolicy": "redirect-to-https",
            "CachePolicyId": CACHING_OPTIMIZED_POLICY_ID,
            "Compress": True,
            "AllowedMethods": {**methods, "CachedMethods": methods},
        },
    }


def invalidate_all(cloudfront: Any, distribution_id: str, progress: Callable[[str], None]) -> str:
    with aws_errors(f"Invalidating distribution {distribution_id}"):
        response = cloudfront.create_invalidation(
            DistributionId=distribution_id,
            InvalidationBatch={
                "Paths": {"Quantity": 1, "Items": ["/*"]},
                "CallerReference": f"tmux-builder-{uuid.uuid4().hex}",
            },
        )
    invalidation_id = str(response["Invalidation"]["Id"])
    progress(f"Invalidated the cache of {distribution_id} ({invalidation_id})")
    return invalidation_id


def wait_deployed(
    cloudfront: Any,
    distribution_id: str,
    progress: Callable[[str], None],
    timeout_s: float,
    interval_s: float,
) -> dict[str, Any]:
    """Poll until Status is Deployed; the pipeline's health_check covers the edge's own delay."""
    started = time.monotonic()
    while True:
        with aws_errors(f"Reading distribution {distribution_id}"):
            distribution = cloudfront.get_distribution(Id=distribution_id)["Distribution"]
        status = distribution.get("Status")
        if status == "Deployed":
            return dict(distribution)
        waited = time.monotonic() - started
        if waited >= timeout_s:
            raise DeployError(f"distribution {distribution_id} still {status} after {waited:.0f}s")
        progress(f"CloudFront distribution {distribution_id} is {status}; waited {waited:.0f}s")
        time.sleep(min(interval_s, max(timeout_s - waited, 0.0)))
