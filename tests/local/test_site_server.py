"""The local CloudFront edge serves a private bucket through a moto distribution."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tmux_builder.local.site_server import STATE_FILE, SiteServer, bucket_from_origin


def _create_site(aws: Any, *, enabled: bool = True, extra: dict | None = None) -> str:
    """A private bucket with a small site and a distribution in front of it, as a deployer does."""
    bucket = f"tmux-test-site-{uuid.uuid4().hex[:12]}"
    s3 = aws("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    _upload(aws, bucket, "index.html", "<h1>version 1</h1>", "text/html", "no-cache")
    _upload(aws, bucket, "styles.css", "h1 { color: teal }", "text/css", "max-age=300")
    _upload(aws, bucket, "docs/index.html", "<p>docs</p>", "text/html")
    config = {
        "CallerReference": bucket,
        "Comment": "test site",
        "Enabled": enabled,
        "DefaultRootObject": "index.html",
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": "site",
                    "DomainName": f"{bucket}.s3.us-east-1.amazonaws.com",
                    "S3OriginConfig": {"OriginAccessIdentity": ""},
                }
            ],
        },
        "DefaultCacheBehavior": {
            "TargetOriginId": "site",
            "ViewerProtocolPolicy": "redirect-to-https",
            "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6",
        },
        **(extra or {}),
    }
    distribution = aws("cloudfront").create_distribution(DistributionConfig=config)
    return str(distribution["Distribution"]["Id"])


def _upload(
    aws: Any, bucket: str, key: str, body: str, content_type: str, cache_control: str = ""
) -> None:
    extra = {"CacheControl": cache_control} if cache_control else {}
    aws("s3").put_object(
        Bucket=bucket, Key=key, Body=body.encode(), ContentType=content_type, **extra
    )


def _bucket_of(aws: Any, distribution_id: str) -> str:
    config = aws("cloudfront").get_distribution(Id=distribution_id)["Distribution"]
    domain = config["DistributionConfig"]["Origins"]["Items"][0]["DomainName"]
    return str(bucket_from_origin(domain))


def _register(server: SiteServer, distribution_id: str) -> dict[str, Any]:
    response = requests.post(f"{server.control_url}/distributions/{distribution_id}", timeout=5)
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def site_server(state_dir: Path, endpoint_url: str) -> Iterator[SiteServer]:
    server = SiteServer(state_dir, endpoint_url).start()
    try:
        yield server
    finally:
        server.stop()


def test_serves_a_private_bucket_with_its_content_types(
    site_server: SiteServer, aws: Any, endpoint_url: str
) -> None:
    distribution_id = _create_site(aws)
    bucket = _bucket_of(aws, distribution_id)

    site = _register(site_server, distribution_id)

    assert site["distribution_id"] == distribution_id
    assert site["domain_name"].endswith(".cloudfront.net")
    index = requests.get(site["url"] + "/", timeout=5)
    assert index.status_code == 200
    assert index.text == "<h1>version 1</h1>"
    assert index.headers["Content-Type"] == "text/html"
    assert index.headers["Cache-Control"] == "no-cache"
    assert index.headers["ETag"]
    styles = requests.get(site["url"] + "/styles.css", timeout=5)
    assert (styles.headers["Content-Type"], styles.text) == ("text/css", "h1 { color: teal }")
    assert styles.headers["Cache-Control"] == "max-age=300"
    assert requests.get(site["url"] + "/docs/", timeout=5).text == "<p>docs</p>"
    assert requests.get(site["url"] + "/missing.html", timeout=5).status_code == 404
    revalidated = requests.get(
        site["url"] + "/styles.css", headers={"If-None-Match": styles.headers["ETag"]}, timeout=5
    )
    assert revalidated.status_code == 304
    # The bucket itself stays private: moto refuses an anonymous read of the same object.
    assert requests.get(f"{endpoint_url}/{bucket}/index.html", timeout=5).status_code == 403


def test_registration_is_idempotent_and_redeploys_show_at_once(
    site_server: SiteServer, aws: Any
) -> None:
    distribution_id = _create_site(aws)
    first = _register(site_server, distribution_id)
    assert _register(site_server, distribution_id) == first

    _upload(aws, _bucket_of(aws, distribution_id), "index.html", "<h1>version 2</h1>", "text/html")

    assert requests.get(first["url"], timeout=5).text == "<h1>version 2</h1>"


def test_missing_objects_use_the_error_pages(site_server: SiteServer, aws: Any) -> None:
    spa = _create_site(
        aws,
        extra={
            "CustomErrorResponses": {
                "Quantity": 1,
                "Items": [
                    {"ErrorCode": 403, "ResponsePagePath": "/index.html", "ResponseCode": "200"}
                ],
            }
        },
    )
    plain = _create_site(aws)
    _upload(aws, _bucket_of(aws, plain), "404.html", "<p>lost</p>", "text/html")

    spa_route = requests.get(_register(site_server, spa)["url"] + "/app/route", timeout=5)
    lost = requests.get(_register(site_server, plain)["url"] + "/nope", timeout=5)

    assert (spa_route.status_code, spa_route.text) == (200, "<h1>version 1</h1>")
    assert (lost.status_code, lost.text) == (404, "<p>lost</p>")


def test_disabled_unknown_and_deleted_distributions(site_server: SiteServer, aws: Any) -> None:
    disabled = _create_site(aws, enabled=False)
    assert requests.get(_register(site_server, disabled)["url"], timeout=5).status_code == 403

    unknown = requests.post(f"{site_server.control_url}/distributions/ENOSUCHTHING", timeout=5)
    assert unknown.status_code == 404

    served = _register(site_server, _create_site(aws))
    stopped = requests.delete(
        f"{site_server.control_url}/distributions/{served['distribution_id']}", timeout=5
    )
    assert stopped.status_code == 200
    with pytest.raises(requests.ConnectionError):
        requests.get(served["url"], timeout=5)


def test_sites_come_back_at_the_same_url_after_a_restart(
    state_dir: Path, endpoint_url: str, aws: Any
) -> None:
    kept, moved, deleted = _create_site(aws), _create_site(aws), _create_site(aws)
    with SiteServer(state_dir, endpoint_url) as server:
        urls = {d: _register(server, d)["url"] for d in (kept, moved, deleted)}
    persisted = json.loads((state_dir / STATE_FILE).read_text())["distributions"]
    assert set(persisted) == {kept, moved, deleted}

    cloudfront = aws("cloudfront")
    cloudfront.delete_distribution(
        Id=deleted, IfMatch=cloudfront.get_distribution(Id=deleted)["ETag"]
    )
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", persisted[moved]))  # someone else took that port meanwhile
        squatter.listen()
        with SiteServer(state_dir, endpoint_url) as server:
            sites = server.sites()
            assert sites[kept].url == urls[kept]
            assert requests.get(urls[kept], timeout=5).text == "<h1>version 1</h1>"
            assert sites[moved].url != urls[moved]
            assert requests.get(sites[moved].url, timeout=5).status_code == 200
            assert deleted not in sites

    persisted = json.loads((state_dir / STATE_FILE).read_text())["distributions"]
    assert persisted == {kept: sites[kept].port, moved: sites[moved].port}


@pytest.mark.parametrize(
    ("domain", "bucket"),
    [
        ("my-site.s3.amazonaws.com", "my-site"),
        ("my-site.s3.eu-west-1.amazonaws.com", "my-site"),
        ("my.dotted.site.s3-us-west-2.amazonaws.com", "my.dotted.site"),
        ("my-site.s3-website-us-east-1.amazonaws.com", "my-site"),
        ("my-site.s3-website.eu-west-1.amazonaws.com", "my-site"),
        ("example.com", None),
    ],
)
def test_bucket_from_origin(domain: str, bucket: str | None) -> None:
    assert bucket_from_origin(domain) == bucket
