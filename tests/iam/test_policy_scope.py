"""What the documents allow, evaluated offline (conditions and the boundary included).

The deployer's own calls are recorded while it deploys (and redeploys) a site on in-process
moto, translated into the IAM requests AWS would authorize, and evaluated against the user's
policy within the boundary: if the deployer starts making a new call, this fails until the
policy (and the boundary) allow it. The rest checks what each document must refuse.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from agent.deploy.aws_static import deploy_static_site
from agent.edge import Edge
from tests.iam import policy_eval as pe
from tests.iam.policy_eval import Request, allowed
from tmux_builder import naming

SESSION = "sess_20250101T000000_abcdef"
BUCKET_A = f"tmux-{pe.USER_A[:12]}-bakery-abcdef"
BUCKET_B = f"tmux-{pe.USER_B[:12]}-bakery-abcdef"
DIST_ARN = f"arn:aws:cloudfront::{pe.ACCOUNT}:distribution/E2EXAMPLE"


def _s3(bucket: str, key: str | None = None) -> str:
    return f"arn:aws:s3:::{bucket}" + (f"/{key}" if key is not None else "")


def _owned_by(user_id: str | None) -> dict[str, list[str]]:
    return {} if user_id is None else {"aws:ResourceTag/UserGUID": [user_id]}


def _creating(tags: dict[str, str]) -> dict[str, list[str]]:
    context = {f"aws:RequestTag/{k}": [v] for k, v in tags.items()}
    context["aws:TagKeys"] = sorted(tags)
    return context


# --- the deployer's calls, as IAM sees them -------------------------------------------------------


class Recorder:
    """Collects (service, operation, params) of every call made through one boto3 session."""

    def __init__(self, session: boto3.Session) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        session.events.register("provide-client-params", self._record)

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls.append((model.service_model.service_name, model.name, dict(params)))


_BUCKET_ACTIONS = {
    "HeadBucket": "s3:ListBucket",
    "ListObjectsV2": "s3:ListBucket",
    "CreateBucket": "s3:CreateBucket",
    "GetBucketTagging": "s3:GetBucketTagging",
    "PutBucketTagging": "s3:PutBucketTagging",
    "PutPublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "PutBucketPolicy": "s3:PutBucketPolicy",
}
_OBJECT_ACTIONS = {"PutObject": "s3:PutObject", "GetObject": "s3:GetObject"}
_ACCOUNT_WIDE = {
    "ListDistributions": "cloudfront:ListDistributions",
    "ListOriginAccessControls": "cloudfront:ListOriginAccessControls",
    "CreateOriginAccessControl": "cloudfront:CreateOriginAccessControl",
}
_DISTRIBUTION_ACTIONS = {
    "GetDistribution": "cloudfront:GetDistribution",
    "CreateInvalidation": "cloudfront:CreateInvalidation",
}


def iam_requests(service: str, operation: str, params: dict[str, Any], owner: str) -> list[Request]:
    """The authorizations AWS checks for one call (service authorization reference)."""
    if service == "s3" and operation in _BUCKET_ACTIONS:
        return [Request(_BUCKET_ACTIONS[operation], _s3(params["Bucket"]))]
    if service == "s3" and operation in _OBJECT_ACTIONS:
        return [Request(_OBJECT_ACTIONS[operation], _s3(params["Bucket"], params["Key"]))]
    if service == "s3" and operation == "DeleteObjects":
        return [
            Request("s3:DeleteObject", _s3(params["Bucket"], o["Key"]))
            for o in params["Delete"]["Objects"]
        ]
    if service == "cloudfront" and operation in _ACCOUNT_WIDE:
        return [Request(_ACCOUNT_WIDE[operation], "*")]
    if service == "cloudfront" and operation == "CreateDistributionWithTags":
        tags = {t["Key"]: t["Value"] for t in params["DistributionConfigWithTags"]["Tags"]["Items"]}
        return [
            Request("cloudfront:CreateDistribution", "*", _creating(tags)),
            Request("cloudfront:TagResource", DIST_ARN, _creating(tags)),
        ]
    if service == "cloudfront" and operation in _DISTRIBUTION_ACTIONS:
        distribution_id = params.get("Id") or params["DistributionId"]
        arn = f"arn:aws:cloudfront::{pe.ACCOUNT}:distribution/{distribution_id}"
        return [Request(_DISTRIBUTION_ACTIONS[operation], arn, _owned_by(owner))]
    raise AssertionError(
        f"the deployer calls {service}:{operation}: add its IAM actions here, to "
        "iam/user-policy.json and to iam/user-permissions-boundary.json"
    )


@pytest.fixture(scope="module")
def deployer_requests() -> list[Request]:
    """Every authorization a first deploy and a redeploy (with a removed file) need."""
    with pytest.MonkeyPatch.context() as monkeypatch, _tmp_site() as site_dir:
        for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.setenv("AWS_DEFAULT_REGION", pe.REGION)
        with mock_aws():
            session = boto3.Session(region_name=pe.REGION)
            recorder = Recorder(session)
            tags = naming.resource_tags(pe.USER_A, SESSION, "static")

            def deploy() -> None:
                deploy_static_site(
                    session,
                    site_dir,
                    BUCKET_A,
                    tags,
                    Edge(),
                    lambda _m: None,
                    wait_timeout_s=5,
                    poll_interval_s=0,
                )

            deploy()
            (site_dir / "assets" / "index-Dx3k9aQ1.css").unlink()
            (site_dir / "assets" / "index-N3wHash9.css").write_text("body{color:red}")
            deploy()
    operations = {(service, operation) for service, operation, _ in recorder.calls}
    # The redeploy path ran: the stale file was removed and the cache invalidated.
    assert ("s3", "DeleteObjects") in operations
    assert ("cloudfront", "CreateInvalidation") in operations
    requests = []
    for service, operation, params in recorder.calls:
        requests += iam_requests(service, operation, params, owner=pe.USER_A)
    return requests


class _tmp_site:
    """A small built site in a temporary folder (module-scoped fixtures cannot use tmp_path)."""

    def __enter__(self) -> Path:
        import tempfile

        self._dir = tempfile.TemporaryDirectory()
        root = Path(self._dir.name) / "dist"
        (root / "assets").mkdir(parents=True)
        (root / "index.html").write_text("<html><head><title>Bakery</title></head></html>")
        (root / "assets" / "index-Dx3k9aQ1.css").write_text("body{}")
        return root

    def __exit__(self, *exc: object) -> None:
        self._dir.cleanup()


def test_the_user_policy_within_the_boundary_allows_every_call_of_the_deployer(
    deployer_requests: list[Request],
) -> None:
    policy, boundary = pe.user_policy(pe.USER_A), pe.boundary()
    refused = [str(r) for r in deployer_requests if not allowed(policy, r, boundary)]
    assert not refused, "the deployer would be refused:\n" + "\n".join(refused)


def test_the_deployer_calls_are_refused_to_another_user(
    deployer_requests: list[Request],
) -> None:
    """User B's role cannot make any of user A's deploy calls (except account-wide listing)."""
    policy_b = pe.user_policy(pe.USER_B)
    for request in deployer_requests:
        if request.resource == "*" and not request.context:
            continue  # ListDistributions / ListOriginAccessControls / CreateOriginAccessControl
        assert not allowed(policy_b, request, pe.boundary()), str(request)


# --- the per-user policy ------------------------------------------------------------------------

OTHER_BUCKETS = [BUCKET_B, pe.ARTIFACTS_BUCKET, pe.PORTAL_BUCKET, "someone-elses-bucket"]


@pytest.mark.parametrize("bucket", OTHER_BUCKETS)
def test_the_user_policy_refuses_every_other_bucket(bucket: str) -> None:
    policy = pe.user_policy(pe.USER_A)
    for action in ("s3:CreateBucket", "s3:ListBucket", "s3:PutBucketPolicy", "s3:PutBucketTagging"):
        assert not allowed(policy, Request(action, _s3(bucket))), (action, bucket)
    for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"):
        assert not allowed(policy, Request(action, _s3(bucket, "index.html"))), (action, bucket)


def test_the_user_policy_holds_distributions_by_their_owner_tag() -> None:
    policy = pe.user_policy(pe.USER_A)
    for action in ("cloudfront:GetDistribution", "cloudfront:CreateInvalidation"):
        assert allowed(policy, Request(action, DIST_ARN, _owned_by(pe.USER_A)))
        assert not allowed(policy, Request(action, DIST_ARN, _owned_by(pe.USER_B)))
        assert not allowed(policy, Request(action, DIST_ARN, _owned_by(None)))  # e.g. the portal
    for action in ("cloudfront:UpdateDistribution", "cloudfront:DeleteDistribution"):
        assert not allowed(policy, Request(action, DIST_ARN, _owned_by(pe.USER_A)))


def test_the_user_cannot_claim_another_users_distribution_by_tagging_it() -> None:
    policy = pe.user_policy(pe.USER_A)
    tags = naming.resource_tags(pe.USER_A, SESSION, "static")
    retag = Request("cloudfront:TagResource", DIST_ARN, {**_creating(tags), **_owned_by(pe.USER_B)})
    assert not allowed(policy, retag)
    as_other = _creating(naming.resource_tags(pe.USER_B, SESSION, "static"))
    assert not allowed(policy, Request("cloudfront:TagResource", DIST_ARN, as_other))
    assert not allowed(policy, Request("cloudfront:CreateDistribution", "*", as_other))
    untagged = Request("cloudfront:CreateDistribution", "*", {})
    assert not allowed(policy, untagged)
    extra_key = _creating({**tags, "Owner": "me"})
    assert not allowed(policy, Request("cloudfront:TagResource", DIST_ARN, extra_key))


def test_the_user_policy_reaches_no_other_service() -> None:
    policy = pe.user_policy(pe.USER_A)
    for request in (
        Request("iam:PassRole", f"arn:aws:iam::{pe.ACCOUNT}:role/tmux-user-{pe.USER_A[:12]}"),
        Request("sts:AssumeRole", f"arn:aws:iam::{pe.ACCOUNT}:role/tmux-user-{pe.USER_B[:12]}"),
        Request("dynamodb:GetItem", pe.TABLE_ARN),
        Request("sqs:SendMessage", pe.AGENT_QUEUE_ARN),
        Request("states:SendTaskSuccess", "*"),
        Request("s3:ListAllMyBuckets", "*"),
        Request("cloudfront:DeleteOriginAccessControl", "*"),
        Request("cloudfront:CreateCachePolicy", "*"),
    ):
        assert not allowed(policy, request), str(request)


# --- the boundary -------------------------------------------------------------------------------


def test_the_boundary_contains_the_user_policy() -> None:
    """Every (action, resource) the per-user policy grants, the boundary grants too."""
    policy, boundary = pe.user_policy(pe.USER_A), pe.boundary()
    boundary_actions = {a.lower() for s in boundary["Statement"] for a in pe.as_list(s["Action"])}
    for statement in policy["Statement"]:
        for action in pe.as_list(statement["Action"]):
            assert action.lower() in boundary_actions, f"{action} is not in the boundary"
    # Concrete resources of the user policy's patterns, with the contexts they are used in.
    tags = naming.resource_tags(pe.USER_A, SESSION, "static")
    samples = [
        Request("s3:CreateBucket", _s3(BUCKET_A)),
        Request("s3:PutObject", _s3(BUCKET_A, "assets/a/b.css")),
        Request("cloudfront:GetDistribution", DIST_ARN, _owned_by(pe.USER_A)),
        Request("cloudfront:TagResource", DIST_ARN, _creating(tags)),
        Request("cloudfront:CreateDistribution", "*", _creating(tags)),
        Request("cloudfront:ListDistributions", "*"),
    ]
    for request in samples:
        assert allowed(policy, request) and allowed(pe.everything(), request, boundary), str(
            request
        )


BROADER = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
}


@pytest.mark.parametrize("identity", [BROADER, pe.everything()], ids=["s3-star", "everything"])
def test_the_boundary_caps_a_broader_policy(identity: dict[str, Any]) -> None:
    boundary = pe.boundary()
    tags = naming.resource_tags(pe.USER_A, SESSION, "static")
    # The boundary is shared by every user: it caps at "some user's site", the per-user policy
    # narrows that to the user's own prefix.
    still_allowed = [
        Request("s3:CreateBucket", _s3(BUCKET_A)),
        Request("s3:PutObject", _s3(BUCKET_B, "x")),
    ]
    for request in still_allowed:
        assert allowed(identity, request, boundary), str(request)
    refused = [
        Request("s3:CreateBucket", _s3("someone-elses-bucket")),
        Request("s3:GetObject", _s3(pe.ARTIFACTS_BUCKET, "users/x/requirements.md")),
        Request("s3:PutObject", _s3(pe.PORTAL_BUCKET, "index.html")),
        Request("s3:DeleteBucket", _s3(BUCKET_A)),
        Request("s3:PutBucketAcl", _s3(BUCKET_A)),
        Request("s3:ListAllMyBuckets", "*"),
        Request("iam:CreateRole", f"arn:aws:iam::{pe.ACCOUNT}:role/anything"),
        Request("iam:PutRolePolicy", f"arn:aws:iam::{pe.ACCOUNT}:role/tmux-user-{pe.USER_A[:12]}"),
        Request("sts:AssumeRole", f"arn:aws:iam::{pe.ACCOUNT}:role/tmux-user-{pe.USER_B[:12]}"),
        Request("dynamodb:GetItem", pe.TABLE_ARN),
        Request("sqs:ReceiveMessage", pe.AGENT_QUEUE_ARN),
        Request("cloudfront:DeleteDistribution", DIST_ARN, _owned_by(pe.USER_A)),
        Request("cloudfront:UpdateDistribution", DIST_ARN, _owned_by(pe.USER_A)),
        Request("cloudfront:GetDistribution", DIST_ARN, _owned_by(None)),
        Request("cloudfront:CreateDistribution", "*", {}),
        Request(
            "cloudfront:TagResource", DIST_ARN, _creating({"Project": "other", "UserGUID": "x"})
        ),
        Request(
            "cloudfront:CreateDistribution",
            "*",
            _creating({k: v for k, v in tags.items() if k != "UserGUID"}),
        ),
    ]
    for request in refused:
        assert not allowed(identity, request, boundary), str(request)


@pytest.mark.parametrize("app", ["tmux-builder", "tmux", "tmux-b", "builder"])
def test_the_boundary_never_covers_the_systems_own_buckets(app: str) -> None:
    """``tmux-????????????-*`` (a 12-character user prefix) misses the shared buckets."""
    boundary = pe.boundary()
    for bucket in (
        f"{app}-artifacts-{pe.ACCOUNT}-{pe.REGION}",
        f"{app}-portal-{pe.ACCOUNT}-{pe.REGION}",
    ):
        for action in ("s3:CreateBucket", "s3:PutBucketPolicy", "s3:ListBucket"):
            assert not allowed(pe.everything(), Request(action, _s3(bucket)), boundary), bucket
        assert not allowed(pe.everything(), Request("s3:GetObject", _s3(bucket, "k")), boundary)


# --- the agent host -----------------------------------------------------------------------------


def _item(pk: str) -> dict[str, list[str]]:
    return {"dynamodb:LeadingKeys": [pk]}


def test_the_agent_host_policy_allows_what_the_agent_does() -> None:
    policy = pe.agent_host_policy()
    artifacts = pe.ARTIFACTS_BUCKET
    user_role = f"arn:aws:iam::{pe.ACCOUNT}:role/tmux-user-{pe.USER_A[:12]}"
    for request in (
        *(
            Request(a, q)
            for q in (pe.AGENT_QUEUE_ARN, pe.CHAT_QUEUE_ARN)
            for a in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility")
        ),
        Request("sqs:SendMessage", pe.EVENTS_QUEUE_ARN),
        Request("states:SendTaskSuccess", "*"),
        Request("states:SendTaskFailure", "*"),
        Request("states:SendTaskHeartbeat", "*"),
        Request("sts:AssumeRole", user_role),
        Request(
            "s3:ListBucket",
            _s3(artifacts),
            {"s3:prefix": [f"users/{pe.USER_A}/sessions/s/uploads/"]},
        ),
        Request("s3:GetObject", _s3(artifacts, f"users/{pe.USER_A}/sessions/s/requirements.md")),
        Request(
            "s3:GetObjectVersion", _s3(artifacts, f"users/{pe.USER_A}/sessions/s/uploads/u/f.png")
        ),
        Request("s3:PutObject", _s3(artifacts, f"users/{pe.USER_A}/sessions/s/pane.txt")),
        Request("dynamodb:PutItem", pe.TABLE_ARN, _item("TASK#exec-1")),
        Request("dynamodb:GetItem", pe.TABLE_ARN, _item("TASK#exec-1")),
        Request("dynamodb:UpdateItem", pe.TABLE_ARN, _item("TASK#exec-1")),
    ):
        assert allowed(policy, request), str(request)


def test_the_agent_host_policy_refuses_everything_else() -> None:
    policy = pe.agent_host_policy()
    artifacts = pe.ARTIFACTS_BUCKET
    for request in (
        Request("sqs:ReceiveMessage", pe.EVENTS_QUEUE_ARN),
        Request("sqs:PurgeQueue", pe.AGENT_QUEUE_ARN),
        Request("states:StartExecution", "*"),
        Request("states:StopExecution", "*"),
        Request("sts:AssumeRole", f"arn:aws:iam::{pe.ACCOUNT}:role/tmux-builder-api-role"),
        Request("sts:AssumeRole", f"arn:aws:iam::{pe.ACCOUNT}:role/admin"),
        Request("iam:PassRole", f"arn:aws:iam::{pe.ACCOUNT}:role/tmux-user-{pe.USER_A[:12]}"),
        Request("s3:ListBucket", _s3(artifacts)),  # no prefix: the whole bucket
        Request("s3:ListBucket", _s3(artifacts), {"s3:prefix": ["exports/"]}),
        Request("s3:GetObject", _s3(artifacts, "exports/dump.json")),
        Request("s3:DeleteObject", _s3(artifacts, f"users/{pe.USER_A}/x")),
        Request("s3:PutObject", _s3(BUCKET_A, "index.html")),
        Request("s3:GetObject", _s3(pe.PORTAL_BUCKET, "index.html")),
        Request("dynamodb:GetItem", pe.TABLE_ARN, _item(f"USER#{pe.USER_A}")),
        Request("dynamodb:UpdateItem", pe.TABLE_ARN, _item(f"EXEC#{pe.USER_A}")),
        Request("dynamodb:PutItem", pe.TABLE_ARN, {}),
        Request("dynamodb:DeleteItem", pe.TABLE_ARN, _item("TASK#exec-1")),
        Request("dynamodb:Query", pe.TABLE_ARN, _item("TASK#exec-1")),
        Request("dynamodb:Scan", pe.TABLE_ARN),
        Request(
            "dynamodb:GetItem", pe.TABLE_ARN.replace("tmux-builder-table", "other"), _item("TASK#x")
        ),
        Request("secretsmanager:GetSecretValue", "*"),
        Request("cloudfront:CreateInvalidation", DIST_ARN, _owned_by(pe.USER_A)),
    ):
        assert not allowed(policy, request), str(request)


def test_an_agent_host_may_hand_work_back_to_the_shared_queues_only() -> None:
    # Leases (agent/leases.py): a host hands back work it must not run and moves what waits
    # in a dead host's queues to the shared ones. A message it sends there is only a request to
    # work: the task token inside cannot be forged, so it cannot fake a step's result.
    policy = pe.agent_host_policy()
    assert allowed(policy, Request("sqs:SendMessage", pe.AGENT_QUEUE_ARN))
    assert allowed(policy, Request("sqs:SendMessage", pe.CHAT_QUEUE_ARN))
    assert not allowed(
        policy, Request("sqs:SendMessage", pe.EVENTS_QUEUE_ARN.replace("events", "x"))
    )
    assert not allowed(policy, Request("sqs:DeleteQueue", pe.AGENT_QUEUE_ARN))


def test_the_task_ledger_key_is_the_one_the_policy_names() -> None:
    from tmux_builder import keys

    assert keys.TASK_PREFIX == "TASK#"
    claim = keys.task_claim("exec-1", "deploy", 1)
    assert allowed(
        pe.agent_host_policy(), Request("dynamodb:PutItem", pe.TABLE_ARN, _item(claim[keys.PK]))
    )


# --- the evaluator itself -----------------------------------------------------------------------


def test_the_evaluator_follows_iam() -> None:
    deny = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::secret*"}],
    }
    everything = pe.everything()
    assert allowed(everything, Request("s3:GetObject", "arn:aws:s3:::x/y"))
    assert not allowed([everything, deny], Request("s3:GetObject", "arn:aws:s3:::secret/y"))
    assert not allowed(everything, Request("s3:GetObject", "arn:aws:s3:::x/y"), boundary=deny)
    assert pe.matches("S3:getobject", "s3:GetObject", ignore_case=True)
    assert pe.matches("arn:aws:s3:::tmux-????????????-*", f"arn:aws:s3:::{BUCKET_A}")
    assert not pe.matches(
        "arn:aws:s3:::tmux-????????????-*", "arn:aws:s3:::tmux-builder-artifacts-1"
    )
    with pytest.raises(NotImplementedError):
        pe.decision(
            [
                {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "*",
                            "Resource": "*",
                            "Condition": {"IpAddress": {"aws:SourceIp": "1.2.3.4/32"}},
                        }
                    ]
                }
            ],
            Request("s3:GetObject", "x"),
        )
