"""Create the template's resources in moto: the embedded stack's ``sam deploy``.

``template.yaml`` is the one list of shared resources; this module reads it (through
:mod:`tmux_builder.local.cfn_template`) and creates each supported resource with boto3 against
the moto endpoint, in dependency order, resolving intrinsics from the physical ids it gets back.

Every step first looks for the resource by name, so running it again on the same moto creates
nothing new (it converges configuration that may have changed, such as environment variables
that depend on parameters). Resource types the embedded stack has no use for (CloudFront,
auto scaling, ...) are skipped with a debug log; a reference to one of them from an output or an
environment variable is left out rather than failing.
"""

from __future__ import annotations

import io
import json
import logging
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tmux_builder.local.cfn_template import (
    NO_VALUE,
    Resolver,
    TemplateError,
    UnresolvableReference,
    dependency_order,
    load_template,
    merge_globals,
    output_values,
    scalar_to_str,
)
from tmux_builder.local.lambda_runtime import CODE_URI_TAG
from tmux_builder.local.moto_server import aws_client, default_region

__all__ = [
    "FunctionInfo",
    "ProvisionError",
    "StackOutputs",
    "apply_substitutions",
    "provision",
]

logger = logging.getLogger(__name__)

_LAMBDA_TRUST = "lambda.amazonaws.com"
_STATES_TRUST = "states.amazonaws.com"


class ProvisionError(TemplateError):
    """A resource could not be created from its template definition."""


@dataclass(frozen=True)
class FunctionInfo:
    """One ``AWS::Serverless::Function`` as created in moto."""

    name: str
    arn: str
    handler: str
    code_uri: str = ""


@dataclass(frozen=True)
class StackOutputs:
    """What the rest of the embedded stack needs to know about the provisioned resources.

    ``environment`` is the resolved ``Globals.Function.Environment.Variables``: the stack puts it
    into ``os.environ`` so the in-process handlers and the agent see what Lambda would.
    """

    outputs: dict[str, str]
    environment: dict[str, str]
    functions: dict[str, FunctionInfo] = field(default_factory=dict)
    resources: dict[str, str] = field(default_factory=dict)


def provision(
    template_path: Path,
    endpoint_url: str,
    parameters: Mapping[str, str],
    *,
    region: str | None = None,
    stack_name: str = "tmux-builder",
) -> StackOutputs:
    """Create (or find) every supported resource of ``template_path`` in moto."""
    template = load_template(template_path)
    provisioner = _Provisioner(
        template=template,
        template_dir=template_path.parent,
        endpoint_url=endpoint_url,
        resolver=Resolver(
            template=template,
            parameters=dict(parameters),
            region=region or default_region(),
            stack_name=stack_name,
        ),
    )
    return provisioner.run()


def apply_substitutions(definition: Any, substitutions: Mapping[str, str]) -> Any:
    """SAM's ``DefinitionSubstitutions``: replace ``${Name}`` in every string of the definition."""
    if isinstance(definition, dict):
        return {key: apply_substitutions(value, substitutions) for key, value in definition.items()}
    if isinstance(definition, list):
        return [apply_substitutions(item, substitutions) for item in definition]
    if isinstance(definition, str):
        for name, value in substitutions.items():
            definition = definition.replace("${" + name + "}", value)
    return definition


def _dummy_code() -> bytes:
    """A valid zip for CreateFunction; the code really runs in-process (lambda_runtime)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("README.txt", date_time=(2020, 1, 1, 0, 0, 0))
        archive.writestr(info, "Runs in-process: see tmux_builder.local.lambda_runtime.\n")
    return buffer.getvalue()


def _attribute_value(value: Any) -> str:
    """SQS attributes are strings; policies (RedrivePolicy, ...) are JSON documents."""
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return scalar_to_str(value)


def _trust_policy(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
            ],
        }
    )


def _tag_list(tags: Any) -> list[dict[str, str]]:
    """CloudFormation writes tags as a list (most types) or a map (SAM): the APIs vary too."""
    if isinstance(tags, dict):
        return [{"Key": str(key), "Value": scalar_to_str(value)} for key, value in tags.items()]
    return [{"Key": str(tag["Key"]), "Value": scalar_to_str(tag["Value"])} for tag in tags or []]


def _changed_configuration(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> dict:
    """The part of a function's wanted configuration that differs from what moto has."""

    def comparable(key: str, configuration: Mapping[str, Any]) -> Any:
        value = configuration.get(key)
        # GetFunction omits Environment when there are no variables.
        return (value or {}).get("Variables") or {} if key == "Environment" else value

    return {
        key: value
        for key, value in wanted.items()
        if comparable(key, current) != comparable(key, wanted)
    }


class _Provisioner:
    """Walks the resources in dependency order, one boto3 call sequence per resource type."""

    def __init__(
        self,
        *,
        template: Mapping[str, Any],
        template_dir: Path,
        endpoint_url: str,
        resolver: Resolver,
    ) -> None:
        self._template = template
        self._template_dir = template_dir
        self._endpoint_url = endpoint_url
        self._resolver = resolver
        self._clients: dict[str, Any] = {}
        self._functions: dict[str, FunctionInfo] = {}
        self._physical_ids: dict[str, str] = {}
        self._creators: dict[str, Callable[[str, dict[str, Any]], tuple[str, dict[str, Any]]]] = {
            "AWS::DynamoDB::Table": self._table,
            "AWS::SQS::Queue": self._queue,
            "AWS::S3::Bucket": self._bucket,
            "AWS::IAM::Role": self._iam_role,
            "AWS::Serverless::Function": self._function,
            "AWS::Serverless::StateMachine": self._state_machine,
            "AWS::SecretsManager::Secret": self._secret,
        }

    # -------------------------------------------------------------------------- driver

    def run(self) -> StackOutputs:
        resources: dict[str, dict[str, Any]] = self._template["Resources"]
        for logical_id in dependency_order(resources):
            resource = resources[logical_id]
            creator = self._creators.get(resource.get("Type", ""))
            if creator is None:
                logger.debug(
                    "skipping %s (%s): not part of the embedded stack",
                    logical_id,
                    resource.get("Type"),
                )
                continue
            if "Condition" in resource and not self._resolver.condition(resource["Condition"]):
                logger.debug(
                    "skipping %s: condition %s is false", logical_id, resource["Condition"]
                )
                continue
            properties = resource.get("Properties") or {}
            try:
                ref, attributes = creator(logical_id, properties)
            except UnresolvableReference as exc:
                raise ProvisionError(f"{logical_id}: {exc}") from exc
            self._resolver.register(logical_id, ref, attributes)
            self._physical_ids[logical_id] = ref
            logger.debug("%s ready: %s", logical_id, ref)
        return StackOutputs(
            outputs=output_values(self._resolver, self._template.get("Outputs") or {}),
            environment=self._environment(self._global_function().get("Environment") or {}),
            functions=dict(self._functions),
            resources=dict(self._physical_ids),
        )

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = aws_client(
                service, self._endpoint_url, region=self._resolver.region
            )
        return self._clients[service]

    def _name(self, logical_id: str, properties: Mapping[str, Any], key: str) -> str:
        """The resource's name property, or a stable one (CloudFormation's are random)."""
        if key in properties:
            return self._resolver.resolve_str(properties[key])
        return f"{self._resolver.stack_name}-{logical_id}"

    def _global_function(self) -> dict[str, Any]:
        return ((self._template.get("Globals") or {}).get("Function")) or {}

    def _environment(self, environment: Mapping[str, Any]) -> dict[str, str]:
        """Resolved variables; one that refers to a resource not created here is left out."""
        variables: dict[str, str] = {}
        for key, value in (environment.get("Variables") or {}).items():
            try:
                resolved = self._resolver.resolve(value)
            except UnresolvableReference as exc:
                logger.warning("environment variable %s left out: %s", key, exc)
                continue
            if resolved is not NO_VALUE:
                variables[key] = scalar_to_str(resolved)
        return variables

    # ---------------------------------------------------------------------- DynamoDB

    def _table(self, logical_id: str, properties: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        props = self._resolver.resolve(properties)
        name = self._name(logical_id, props, "TableName")
        dynamodb = self._client("dynamodb")
        try:
            table = dynamodb.describe_table(TableName=name)["Table"]
        except dynamodb.exceptions.ResourceNotFoundException:
            table = dynamodb.create_table(TableName=name, **self._table_request(props))[
                "TableDescription"
            ]
            self._table_settings(name, props)
        return name, {"Arn": table["TableArn"], "StreamArn": table.get("LatestStreamArn", "")}

    @staticmethod
    def _table_request(props: Mapping[str, Any]) -> dict[str, Any]:
        request: dict[str, Any] = {
            key: props[key]
            for key in (
                "AttributeDefinitions",
                "KeySchema",
                "BillingMode",
                "ProvisionedThroughput",
                "TableClass",
                "DeletionProtectionEnabled",
            )
            if key in props
        }
        cfn_only = {"ContributorInsightsSpecification"}
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if key in props:
                request[key] = [
                    {k: v for k, v in index.items() if k not in cfn_only} for index in props[key]
                ]
        if "StreamSpecification" in props:
            request["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
        if "SSESpecification" in props:
            sse = props["SSESpecification"]
            request["SSESpecification"] = {
                "Enabled": sse.get("SSEEnabled", False),
                **{k: sse[k] for k in ("SSEType", "KMSMasterKeyId") if k in sse},
            }
        if props.get("Tags"):
            request["Tags"] = _tag_list(props["Tags"])
        return request

    def _table_settings(self, name: str, props: Mapping[str, Any]) -> None:
        dynamodb = self._client("dynamodb")
        recovery = props.get("PointInTimeRecoverySpecification")
        if recovery:
            dynamodb.update_continuous_backups(
                TableName=name,
                PointInTimeRecoverySpecification={
                    "PointInTimeRecoveryEnabled": bool(recovery.get("PointInTimeRecoveryEnabled"))
                },
            )
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )

    # --------------------------------------------------------------------------- SQS

    def _queue(self, logical_id: str, properties: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        props = self._resolver.resolve(properties)
        name = self._name(logical_id, props, "QueueName")
        if props.get("FifoQueue") and not name.endswith(".fifo"):
            name += ".fifo"
        attributes = {
            key: _attribute_value(value)
            for key, value in props.items()
            if key not in {"QueueName", "Tags"}
        }
        sqs = self._client("sqs")
        try:
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            mutable = {k: v for k, v in attributes.items() if k != "FifoQueue"}
            if mutable:
                sqs.set_queue_attributes(QueueUrl=url, Attributes=mutable)
        except sqs.exceptions.QueueDoesNotExist:
            tags = {tag["Key"]: tag["Value"] for tag in _tag_list(props.get("Tags"))}
            url = sqs.create_queue(QueueName=name, Attributes=attributes, tags=tags)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        return url, {"Arn": arn, "QueueName": name, "QueueUrl": url}

    # --------------------------------------------------------------- Secrets Manager

    def _secret(self, logical_id: str, properties: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """A secret; a generated value is made once and kept (a rerun never rotates it)."""
        props = self._resolver.resolve(properties)
        name = self._name(logical_id, props, "Name")
        secrets = self._client("secretsmanager")
        try:
            arn = secrets.describe_secret(SecretId=name)["ARN"]
        except secrets.exceptions.ResourceNotFoundException:
            value = props.get("SecretString")
            if value is None:
                value = _generated_secret(props.get("GenerateSecretString") or {})
            arn = secrets.create_secret(
                Name=name, Description=str(props.get("Description", "")), SecretString=str(value)
            )["ARN"]
        return arn, {"Id": arn}

    # ---------------------------------------------------------------------------- S3

    def _bucket(self, logical_id: str, properties: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        props = self._resolver.resolve(properties)
        name = self._name(logical_id, props, "BucketName").lower()
        region = self._resolver.region
        s3 = self._client("s3")
        try:
            s3.head_bucket(Bucket=name)
        except s3.exceptions.ClientError:
            location = (
                {}
                if region == "us-east-1"
                else {"CreateBucketConfiguration": {"LocationConstraint": region}}
            )
            s3.create_bucket(Bucket=name, **location)
        self._bucket_settings(name, props)
        suffix = self._resolver.pseudo_parameters["AWS::URLSuffix"]
        return name, {
            "Arn": f"arn:{self._resolver.pseudo_parameters['AWS::Partition']}:s3:::{name}",
            "DomainName": f"{name}.s3.{suffix}",
            "RegionalDomainName": f"{name}.s3.{region}.{suffix}",
            "DualStackDomainName": f"{name}.s3.dualstack.{region}.{suffix}",
            "WebsiteURL": f"http://{name}.s3-website-{region}.{suffix}",
        }

    def _bucket_settings(self, name: str, props: Mapping[str, Any]) -> None:
        """Apply the bucket's configuration; each put is idempotent, so it also converges."""
        s3 = self._client("s3")
        if "PublicAccessBlockConfiguration" in props:
            s3.put_public_access_block(
                Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
            )
        if "BucketEncryption" in props:
            # CloudFormation's ServerSideEncryptionByDefault is the API's Apply...ByDefault.
            rules = [
                {
                    (
                        "ApplyServerSideEncryptionByDefault"
                        if key == "ServerSideEncryptionByDefault"
                        else key
                    ): value
                    for key, value in rule.items()
                }
                for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
            ]
            s3.put_bucket_encryption(
                Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules}
            )
        if "VersioningConfiguration" in props:
            s3.put_bucket_versioning(
                Bucket=name,
                VersioningConfiguration={"Status": props["VersioningConfiguration"]["Status"]},
            )
        if "OwnershipControls" in props:
            s3.put_bucket_ownership_controls(
                Bucket=name, OwnershipControls=props["OwnershipControls"]
            )
        if "CorsConfiguration" in props:
            renames = {"Id": "ID", "MaxAge": "MaxAgeSeconds"}
            rules = [
                {renames.get(key, key): value for key, value in rule.items()}
                for rule in props["CorsConfiguration"]["CorsRules"]
            ]
            s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": rules})
        if "WebsiteConfiguration" in props:
            website = props["WebsiteConfiguration"]
            config: dict[str, Any] = {}
            if "IndexDocument" in website:
                config["IndexDocument"] = {"Suffix": website["IndexDocument"]}
            if "ErrorDocument" in website:
                config["ErrorDocument"] = {"Key": website["ErrorDocument"]}
            s3.put_bucket_website(Bucket=name, WebsiteConfiguration=config)
        if props.get("Tags"):
            s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": _tag_list(props["Tags"])})
        for key in ("LifecycleConfiguration", "NotificationConfiguration", "LoggingConfiguration"):
            if key in props:
                logger.debug("bucket %s: %s is not applied in the embedded stack", name, key)

    # --------------------------------------------------------------------------- IAM

    def _iam_role(self, logical_id: str, properties: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        props = self._resolver.resolve(properties)
        name = self._name(logical_id, props, "RoleName")[:64]
        iam = self._client("iam")
        try:
            role = iam.get_role(RoleName=name)["Role"]
        except iam.exceptions.NoSuchEntityException:
            role = iam.create_role(
                RoleName=name,
                Path=props.get("Path", "/"),
                AssumeRolePolicyDocument=json.dumps(props["AssumeRolePolicyDocument"]),
                Tags=_tag_list(props.get("Tags")),
            )["Role"]
        for policy in props.get("Policies", []):
            iam.put_role_policy(
                RoleName=name,
                PolicyName=policy["PolicyName"],
                PolicyDocument=json.dumps(policy["PolicyDocument"]),
            )
        for policy_arn in props.get("ManagedPolicyArns", []):
            iam.attach_role_policy(RoleName=name, PolicyArn=policy_arn)
        return name, {"Arn": role["Arn"], "RoleId": role["RoleId"]}

    def _service_role(self, name: str, service: str) -> str:
        """The implicit role SAM creates for a function or state machine (policies not applied)."""
        name = name[:64]
        iam = self._client("iam")
        try:
            return str(iam.get_role(RoleName=name)["Role"]["Arn"])
        except iam.exceptions.NoSuchEntityException:
            return str(
                iam.create_role(RoleName=name, AssumeRolePolicyDocument=_trust_policy(service))[
                    "Role"
                ]["Arn"]
            )

    # ------------------------------------------------------------------------ Lambda

    def _function(self, logical_id: str, properties: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        merged = merge_globals(properties, self._global_function())
        name = self._name(logical_id, merged, "FunctionName")
        handler = self._resolver.resolve_str(merged["Handler"])
        code_uri = self._resolver.resolve(merged.get("CodeUri", ""))
        code_uri = code_uri if isinstance(code_uri, str) else ""
        if "Role" in merged:
            role_arn = self._resolver.resolve_str(merged["Role"])
        else:
            role_arn = self._service_role(f"{name}-role", _LAMBDA_TRUST)
            role_name = role_arn.rsplit("/", 1)[-1]
            self._resolver.register(f"{logical_id}Role", role_name, {"Arn": role_arn})
        configuration: dict[str, Any] = {
            "Role": role_arn,
            "Handler": handler,
            "Runtime": self._resolver.resolve_str(merged.get("Runtime", "python3.11")),
            "Description": self._resolver.resolve_str(merged.get("Description", "")),
            "Timeout": int(self._resolver.resolve_str(merged.get("Timeout", 3))),
            "MemorySize": int(self._resolver.resolve_str(merged.get("MemorySize", 128))),
            "Environment": {"Variables": self._environment(merged.get("Environment") or {})},
        }
        arn = self._create_or_update_function(name, configuration, merged, code_uri)
        self._event_sources(logical_id, name, arn, merged.get("Events") or {})
        self._functions[logical_id] = FunctionInfo(
            name=name, arn=arn, handler=handler, code_uri=code_uri
        )
        return name, {"Arn": arn}

    def _create_or_update_function(
        self, name: str, configuration: dict[str, Any], merged: Mapping[str, Any], code_uri: str
    ) -> str:
        lambda_ = self._client("lambda")
        try:
            current = lambda_.get_function(FunctionName=name)["Configuration"]
        except lambda_.exceptions.ResourceNotFoundException:
            tags = {
                tag["Key"]: tag["Value"]
                for tag in _tag_list(self._resolver.resolve(merged.get("Tags") or {}))
            }
            created = lambda_.create_function(
                FunctionName=name,
                Code={"ZipFile": _dummy_code()},
                Architectures=self._resolver.resolve(merged.get("Architectures", ["x86_64"])),
                Tags={**tags, CODE_URI_TAG: code_uri},
                **configuration,
            )
            return str(created["FunctionArn"])
        changed = _changed_configuration(current, configuration)
        if changed:
            lambda_.update_function_configuration(FunctionName=name, **changed)
        lambda_.tag_resource(Resource=current["FunctionArn"], Tags={CODE_URI_TAG: code_uri})
        return str(current["FunctionArn"])

    def _event_sources(
        self, logical_id: str, name: str, arn: str, events: Mapping[str, Any]
    ) -> None:
        """SQS events become event-source mappings; Api events are the local gateway's job."""
        lambda_ = self._client("lambda")
        for event_name, event in events.items():
            if event.get("Type") != "SQS":
                logger.debug(
                    "%s.%s: %s events are not mapped here",
                    logical_id,
                    event_name,
                    event.get("Type"),
                )
                continue
            props = self._resolver.resolve(event.get("Properties") or {})
            queue_arn = scalar_to_str(props["Queue"])
            existing = lambda_.list_event_source_mappings(EventSourceArn=queue_arn)
            if any(mapping["FunctionArn"] == arn for mapping in existing["EventSourceMappings"]):
                continue
            optional = (
                "BatchSize",
                "Enabled",
                "FunctionResponseTypes",
                "MaximumBatchingWindowInSeconds",
                "ScalingConfig",
                "FilterCriteria",
            )
            lambda_.create_event_source_mapping(
                EventSourceArn=queue_arn,
                FunctionName=name,
                **{key: props[key] for key in optional if key in props},
            )

    # ----------------------------------------------------------------- Step Functions

    def _state_machine(
        self, logical_id: str, properties: dict[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        props = properties
        name = self._name(logical_id, props, "Name")
        definition = self._definition(logical_id, props)
        substitutions = {
            key: self._resolver.resolve_str(value)
            for key, value in (props.get("DefinitionSubstitutions") or {}).items()
        }
        document = json.dumps(apply_substitutions(definition, substitutions), indent=2)
        if "Role" in props:
            role_arn = self._resolver.resolve_str(props["Role"])
        else:
            role_arn = self._service_role(f"{name}-role", _STATES_TRUST)
        sfn = self._client("stepfunctions")
        arn = self._find_state_machine(name)
        if arn is None:
            arn = sfn.create_state_machine(
                name=name,
                definition=document,
                roleArn=role_arn,
                type=self._resolver.resolve_str(props.get("Type", "STANDARD")),
            )["stateMachineArn"]
        else:
            current = sfn.describe_state_machine(stateMachineArn=arn)
            if current["definition"] != document or current["roleArn"] != role_arn:
                sfn.update_state_machine(stateMachineArn=arn, definition=document, roleArn=role_arn)
        return arn, {"Arn": arn, "Name": name}

    def _definition(self, logical_id: str, props: Mapping[str, Any]) -> Any:
        if "Definition" in props:
            return self._resolver.resolve(props["Definition"])
        uri = self._resolver.resolve(props.get("DefinitionUri"))
        if not isinstance(uri, str):
            raise ProvisionError(f"{logical_id}: DefinitionUri must be a local file path here")
        path = self._template_dir / uri
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ProvisionError(f"{logical_id}: cannot read {path}: {exc}") from exc
        if path.suffix in {".yaml", ".yml"}:
            import yaml

            return yaml.safe_load(text)
        return json.loads(text)

    def _find_state_machine(self, name: str) -> str | None:
        paginator = self._client("stepfunctions").get_paginator("list_state_machines")
        for page in paginator.paginate():
            for machine in page["stateMachines"]:
                if machine["name"] == name:
                    return str(machine["stateMachineArn"])
        return None


def _generated_secret(spec: Mapping[str, Any]) -> str:
    """What GenerateSecretString makes: random characters of the asked length."""
    import secrets as random_source
    import string

    alphabet = string.ascii_letters + string.digits
    if not spec.get("ExcludePunctuation"):
        alphabet += "!#$%&()*+,-.:;<=>?@[]^_{|}~"
    excluded = set(str(spec.get("ExcludeCharacters", "")))
    alphabet = "".join(c for c in alphabet if c not in excluded)
    length = int(spec.get("PasswordLength", 32))
    return "".join(random_source.choice(alphabet) for _ in range(length))
