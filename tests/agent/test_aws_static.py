"""The S3 + CloudFront deployer against in-process moto: what it creates, and only once."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.moto_api import state_manager

from agent.deploy.aws_static import (
    RESOURCE_BUCKET,
    RESOURCE_DISTRIBUTION,
    RESOURCE_ORIGIN_ACCESS_CONTROL,
    deploy_static_site,
)
from agent.deploy.base import SiteResource
from agent.deploy.site_files import CACHE_DEFAULT, CACHE_HASHED, CACHE_HTML, cache_control_for
from agent.edge import Edge
from agent.errors import DeployError
from tests.tools import in_process_moto
from tmux_builder.naming import resource_tags

USER_ID = "0123456789abcdef0123456789abcdef"
SESSION_ID = "sess_20250101T000000_abcdef"
BUCKET = "tmux-0123456789ab-bakery-abcdef"
TAGS = resource_tags(USER_ID, SESSION_ID, "static")


class FakeEdge(Edge):
    """Records what it was asked; answers a fixed local URL."""

    def __init__(self) -> None:
        super().__init__(site_server="http://edge.test")
        object.__setattr__(self, "calls", [])

    def url_for(self, distribution_id: str, domain_name: str) -> str:
        self.calls.append((distribution_id, domain_name))  # type: ignore[attr-defined]
        return f"http://edge.test/{distribution_id}/"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.Session]:
    with in_process_moto(monkeypatch):
        yield boto3.Session(region_name="us-east-1")


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text(
        "<!doctype html><html><head><title> Sunny &amp; Sweet\n Bakery </title>"
        '<link rel="stylesheet" href="assets/index-Dx3k9aQ1.css"></head><body>hi</body></html>'
    )
    (root / "about.html").write_text("<html><head><title>About</title></head></html>")
    (root / "assets" / "index-Dx3k9aQ1.css").write_text("body{color:red}")
    (root / "assets" / "index-B7qZ2m4P.js").write_text("console.log(1)")
    (root / "assets" / "hero-illustration.svg").write_text("<svg/>")
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 16)
    (root / "data.json").write_text("{}")
    return root


def _deploy(session: boto3.Session, site: Path, edge: Edge | None = None, **kwargs: Any):
    messages: list[str] = []
    outcome = deploy_static_site(
        session, site, BUCKET, TAGS, edge or FakeEdge(), messages.append, **kwargs
    )
    return outcome, messages


def _refuse(session: boto3.Session, operation: str, code: str = "AccessDenied") -> None:
    """Every ``operation`` ("service.Operation") of the session's clients answers an error.

    Why at botocore's before-call event: the deployer's own code runs unchanged up to the call.
    """

    def refuse(**_kwargs: object) -> tuple[object, dict[str, object]]:
        http = type("Http", (), {"status_code": 403, "headers": {}})()
        error = {"Code": code, "Message": "not allowed to write"}
        return http, {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 403}}

    session.events.register(f"before-call.{operation}", refuse)


def _existing(session: boto3.Session) -> set[tuple[str, str]]:
    """The site's resources as moto has them (what teardown would have to remove)."""
    cloudfront = session.client("cloudfront")
    buckets = {b["Name"] for b in session.client("s3").list_buckets()["Buckets"]}
    controls = cloudfront.list_origin_access_controls()["OriginAccessControlList"]
    distributions = cloudfront.list_distributions()["DistributionList"]
    return (
        {(RESOURCE_BUCKET, b) for b in buckets if b == BUCKET}
        | {
            (RESOURCE_ORIGIN_ACCESS_CONTROL, o["Id"])
            for o in controls.get("Items", [])
            if o["Name"] == BUCKET
        }
        | {
            (RESOURCE_DISTRIBUTION, d["Id"])
            for d in distributions.get("Items", [])
            if d["Comment"] == BUCKET
        }
    )


def test_first_deploy_creates_private_tagged_site(aws: boto3.Session, site: Path) -> None:
    edge = FakeEdge()
    recorded: list[SiteResource] = []
    outcome, messages = _deploy(aws, site, edge, record=recorded.append)
    assert recorded == outcome.resources
    s3 = aws.client("s3")
    cloudfront = aws.client("cloudfront")

    result = outcome.result
    assert result.bucket == BUCKET
    assert result.title == "Sunny & Sweet Bakery"
    assert result.files == 7
    assert result.url == f"http://edge.test/{result.distribution_id}/"
    assert edge.calls[0][0] == result.distribution_id  # type: ignore[attr-defined]

    block = s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4
    assert {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=BUCKET)["TagSet"]} == TAGS

    distribution = cloudfront.get_distribution(Id=result.distribution_id)["Distribution"]
    config = distribution["DistributionConfig"]
    assert config["Comment"] == BUCKET
    assert config["DefaultRootObject"] == "index.html"
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    assert config["Origins"]["Items"][0]["DomainName"] == f"{BUCKET}.s3.amazonaws.com"
    dist_tags = cloudfront.list_tags_for_resource(Resource=distribution["ARN"])["Tags"]["Items"]
    assert {t["Key"]: t["Value"] for t in dist_tags} == TAGS

    policy = json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])
    (statement,) = policy["Statement"]
    assert statement["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert statement["Condition"]["StringEquals"]["AWS:SourceArn"] == distribution["ARN"]
    assert statement["Resource"] == f"arn:aws:s3:::{BUCKET}/*"

    oacs = cloudfront.list_origin_access_controls()["OriginAccessControlList"]["Items"]
    assert [o["Name"] for o in oacs] == [BUCKET]
    assert {(r.type, r.id) for r in outcome.resources} == {
        (RESOURCE_BUCKET, BUCKET),
        (RESOURCE_DISTRIBUTION, result.distribution_id),
        (RESOURCE_ORIGIN_ACCESS_CONTROL, oacs[0]["Id"]),
    }
    assert any("Created CloudFront distribution" in m for m in messages)


def test_objects_have_content_types_and_cache_headers(aws: boto3.Session, site: Path) -> None:
    _deploy(aws, site)
    s3 = aws.client("s3")
    expected = {
        "index.html": ("text/html; charset=utf-8", CACHE_HTML),
        "about.html": ("text/html; charset=utf-8", CACHE_HTML),
        "assets/index-Dx3k9aQ1.css": ("text/css; charset=utf-8", CACHE_HASHED),
        "assets/index-B7qZ2m4P.js": ("text/javascript; charset=utf-8", CACHE_HASHED),
        "assets/hero-illustration.svg": ("image/svg+xml", CACHE_DEFAULT),
        "logo.png": ("image/png", CACHE_DEFAULT),
        "data.json": ("application/json; charset=utf-8", CACHE_DEFAULT),
    }
    for key, (content_type, cache_control) in expected.items():
        head = s3.head_object(Bucket=BUCKET, Key=key)
        assert (head["ContentType"], head["CacheControl"]) == (content_type, cache_control), key


def test_redeploy_reuses_distribution_invalidates_and_removes_stale(
    aws: boto3.Session, site: Path
) -> None:
    first, _ = _deploy(aws, site)
    (site / "about.html").unlink()
    (site / "assets" / "index-B7qZ2m4P.js").unlink()
    (site / "assets" / "index-Zz9Yy8Xx.js").write_text("console.log(2)")

    second, messages = _deploy(aws, site)

    cloudfront = aws.client("cloudfront")
    assert second.result.distribution_id == first.result.distribution_id
    assert second.result.url == first.result.url
    assert len(cloudfront.list_distributions()["DistributionList"]["Items"]) == 1
    assert len(cloudfront.list_origin_access_controls()["OriginAccessControlList"]["Items"]) == 1
    invalidations = cloudfront.list_invalidations(DistributionId=first.result.distribution_id)
    assert invalidations["InvalidationList"]["Quantity"] == 1
    assert {(r.type, r.id) for r in second.resources} == {(r.type, r.id) for r in first.resources}

    keys = {o["Key"] for o in aws.client("s3").list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert "about.html" not in keys and "assets/index-B7qZ2m4P.js" not in keys
    assert "assets/index-Zz9Yy8Xx.js" in keys
    assert any("Removed 2 files" in m for m in messages)
    assert any("Reusing CloudFront distribution" in m for m in messages)


def test_waits_for_deployed_with_progress(aws: boto3.Session, site: Path) -> None:
    state_manager.set_transition("cloudfront::distribution", {"progression": "manual", "times": 3})
    try:
        outcome, messages = _deploy(aws, site, poll_interval_s=0.01)
    finally:
        state_manager.unset_transition("cloudfront::distribution")
    assert outcome.result.distribution_id
    assert any(" is InProgress; waited" in m for m in messages)


def test_wait_is_bounded(aws: boto3.Session, site: Path) -> None:
    state_manager.set_transition(
        "cloudfront::distribution", {"progression": "manual", "times": 1000}
    )
    try:
        with pytest.raises(DeployError, match="still InProgress"):
            _deploy(aws, site, wait_timeout_s=0.05, poll_interval_s=0.01)
    finally:
        state_manager.unset_transition("cloudfront::distribution")


def test_missing_index_html_is_a_deploy_error(aws: boto3.Session, tmp_path: Path) -> None:
    (tmp_path / "style.css").write_text("")
    with pytest.raises(DeployError, match=r"no index\.html"):
        _deploy(aws, tmp_path)
    with pytest.raises(DeployError, match="does not exist"):
        _deploy(aws, tmp_path / "nope")
    assert aws.client("s3").list_buckets()["Buckets"] == []


def test_bucket_of_another_user_is_refused(aws: boto3.Session, site: Path) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_tagging(
        Bucket=BUCKET,
        Tagging={
            "TagSet": [
                {"Key": "Project", "Value": "tmux-builder"},
                {"Key": "UserGUID", "Value": "f" * 32},
            ]
        },
    )
    recorded: list[SiteResource] = []
    with pytest.raises(DeployError, match="UserGUID"):
        _deploy(aws, site, record=recorded.append)
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET)
    assert recorded == []  # never handed to teardown as this user's


@pytest.mark.parametrize(
    ("operation", "made"),
    [
        ("s3.PutPublicAccessBlock", {RESOURCE_BUCKET}),
        ("s3.PutObject", {RESOURCE_BUCKET}),
        (
            "cloudfront.CreateDistributionWithTags",
            {RESOURCE_BUCKET, RESOURCE_ORIGIN_ACCESS_CONTROL},
        ),
        (
            "s3.PutBucketPolicy",
            {RESOURCE_BUCKET, RESOURCE_ORIGIN_ACCESS_CONTROL, RESOURCE_DISTRIBUTION},
        ),
    ],
)
def test_a_failed_first_deploy_has_recorded_everything_it_made(
    aws: boto3.Session, site: Path, operation: str, made: set[str]
) -> None:
    _refuse(aws, operation)
    recorded: list[SiteResource] = []

    with pytest.raises(DeployError, match="AccessDenied"):
        _deploy(aws, site, record=recorded.append)

    assert {r.type for r in recorded} == made
    assert {(r.type, r.id) for r in recorded} == _existing(aws)
    assert len(recorded) == len(made)  # each once
    by_type = {r.type: r for r in recorded}
    assert by_type[RESOURCE_BUCKET].metadata == {"region": "us-east-1"}
    if RESOURCE_DISTRIBUTION in by_type:
        distribution = by_type[RESOURCE_DISTRIBUTION]
        found = aws.client("cloudfront").get_distribution(Id=distribution.id)["Distribution"]
        assert distribution.metadata == {
            "arn": found["ARN"],
            "domain_name": found["DomainName"],
        }


def test_a_retry_after_a_failure_records_the_same_resources(aws: boto3.Session, site: Path) -> None:
    _refuse(aws, "s3.PutBucketPolicy")
    failed: list[SiteResource] = []
    with pytest.raises(DeployError):
        _deploy(aws, site, record=failed.append)
    session = boto3.Session(region_name="us-east-1")  # same moto account, no refusal

    retried: list[SiteResource] = []
    outcome, _ = _deploy(session, site, record=retried.append)

    assert retried == outcome.resources
    assert {(r.type, r.id) for r in retried} == {(r.type, r.id) for r in failed} == _existing(aws)


def test_aws_errors_carry_code_and_message(aws: boto3.Session, site: Path) -> None:
    _refuse(aws, "s3.PutObject")
    with pytest.raises(DeployError) as caught:
        _deploy(aws, site)
    assert str(caught.value).startswith("Uploading ")
    assert "AccessDenied: not allowed to write" in str(caught.value)
    assert "testing" not in str(caught.value)
    assert caught.value.error_code == "DeployError"


def test_missing_credentials_is_a_deploy_error(
    aws: boto3.Session, site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(DeployError, match="credentials"):
        _deploy(boto3.Session(region_name="us-east-1"), site)


def test_symlink_out_of_the_site_is_not_published(
    aws: boto3.Session, site: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "credentials"
    secret.write_text("aws_secret_access_key = nope")
    (site / "leak.txt").symlink_to(secret)
    outcome, messages = _deploy(aws, site)
    keys = {o["Key"] for o in aws.client("s3").list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert "leak.txt" not in keys
    assert outcome.result.files == 7
    assert any("Skipping leak.txt" in m for m in messages)


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("index.html", CACHE_HTML),
        ("assets/main.3f2a1b4c.js", CACHE_HASHED),
        ("assets/vendor-a1B2c3D4.js", CACHE_HASHED),
        ("assets/background-pattern.png", CACHE_DEFAULT),
        ("assets/hero-illustration.png", CACHE_DEFAULT),
        ("img/photo-Ab12Cd34.jpg", CACHE_DEFAULT),
    ],
)
def test_cache_control_rules(key: str, expected: str) -> None:
    assert cache_control_for(key) == expected


class _SiteServerStub(BaseHTTPRequestHandler):
    """Plays the local site server's registration endpoint."""

    registered: list[tuple[str, dict[str, str]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.registered.append((self.path, body))
        if self.path.startswith("/distributions/"):
            status, answer = 200, {"url": f"http://127.0.0.1:1{self.path}/"}
        else:
            status, answer = 404, {"error": "no such route"}
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def site_server() -> Iterator[str]:
    _SiteServerStub.registered = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SiteServerStub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_edge_settings() -> None:
    assert Edge.from_settings("cloudfront").url_for("E1", "d1.cloudfront.net") == (
        "https://d1.cloudfront.net"
    )
    assert Edge.from_settings("http://127.0.0.1:8700/").site_server == "http://127.0.0.1:8700"
    with pytest.raises(ValueError, match="cloudfront"):
        Edge.from_settings("s3-website")


def test_local_edge_registers_the_distribution(
    aws: boto3.Session, site: Path, site_server: str
) -> None:
    outcome, _ = _deploy(aws, site, Edge.from_settings(site_server))
    dist_id = outcome.result.distribution_id
    assert outcome.result.url == f"http://127.0.0.1:1/distributions/{dist_id}/"
    ((path, body),) = _SiteServerStub.registered
    assert path == f"/distributions/{dist_id}"
    assert body["domain_name"].endswith(".cloudfront.net")


def test_local_edge_failures_are_deploy_errors(site_server: str) -> None:
    with pytest.raises(DeployError, match="HTTP 404"):
        Edge(site_server=f"{site_server}/wrong").url_for("E1", "d1.cloudfront.net")
    with pytest.raises(DeployError, match="unreachable"):
        Edge(site_server="http://127.0.0.1:9").url_for("E1", "d1.cloudfront.net")
