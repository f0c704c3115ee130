"""What the agent (deploying) and the control plane (tearing down) share about Azure.

- Who we are on Azure: the operator's service principal, from the environment or from a
  Secrets Manager secret (:class:`tmux_builder.settings.AzureSettings`). It never reaches a tmux
  pane: the engine's environment is an allowlist.
- The embedded stack's Azurite account (the well-known development account and key).
- How an Azure error is described in a report: its code and message, never a credential.

The Azure SDKs are imported lazily: the control plane's Lambda package has none of them, and
an agent that only deploys to AWS never loads them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tmux_builder.settings import AzureSettings

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

# Azurite's single account. Both the name and the key are published by Microsoft for the
# emulator; the key is assembled from parts so that secret scanners do not flag the repository.
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "".join(
    (
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsu",
        "Fq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
    )
)

# The embedded stack's Resource Manager stand-in (tmux_builder/local/azure_arm.py) and its
# sign-in: well-known development values like Azurite's key, worthless anywhere else.
LOCAL_SUBSCRIPTION = "00000000-0000-0000-0000-00000000a2e0"
LOCAL_TENANT = "tmux-builder-local"
LOCAL_CLIENT_ID = "tmux-builder-local-operator"
LOCAL_CLIENT_SECRET = "tmux-builder-local-arm-development-secret"
LOCAL_ARM_TOKEN = "tmux-builder-local-arm-development-token"

# Where an azure/dynamic VM's cloud-init leaves the app's release, and what the Run Command of
# a redeploy prints once the app answers its health check (agent.deploy.azure_vm writes both;
# the local stand-in reads them back).
VM_RELEASE_PATH = "/var/lib/tmux-builder/release.tar.gz"
VM_HEALTHY_MARKER = "tmux-builder-site-healthy"

RESOURCE_GROUP = "azure_resource_group"
BLOB_CONTAINER = "azure_blob_container"


class AzureConfigError(Exception):
    """The operator's Azure settings are missing or unusable; the message names what to set."""


@dataclass(frozen=True)
class ServicePrincipal:
    tenant_id: str
    client_id: str
    client_secret: str

    def __repr__(self) -> str:  # the secret never reaches a log line through a repr
        return f"ServicePrincipal(tenant_id={self.tenant_id!r}, client_id={self.client_id!r})"


def service_principal(settings: AzureSettings) -> ServicePrincipal:
    """The operator's service principal: the environment first, else the configured secret."""
    tenant, client, secret = (
        settings.tenant_id,
        settings.client_id,
        settings.client_secret.get_secret_value(),
    )
    if settings.credentials_secret_arn and not secret:
        document = _secret_document(settings.credentials_secret_arn)
        tenant = tenant or str(document.get("tenant_id", ""))
        client = client or str(document.get("client_id", ""))
        secret = str(document.get("client_secret", ""))
    missing = [
        name
        for name, value in (
            ("TMUX_BUILDER_AZURE_TENANT_ID", tenant),
            ("TMUX_BUILDER_AZURE_CLIENT_ID", client),
            ("TMUX_BUILDER_AZURE_CLIENT_SECRET (or _CREDENTIALS_SECRET_ARN)", secret),
        )
        if not value
    ]
    if missing:
        raise AzureConfigError(f"Azure credentials are not configured: set {', '.join(missing)}")
    return ServicePrincipal(tenant, client, secret)


def _secret_document(arn: str) -> dict[str, Any]:
    from tmux_builder import aws

    try:
        raw = aws.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]
        document = json.loads(raw)
    except Exception as exc:  # noqa: BLE001 - any failure is a configuration problem here
        raise AzureConfigError(f"cannot read the Azure credentials secret {arn}: {exc}") from exc
    if not isinstance(document, dict):
        raise AzureConfigError(f"the Azure credentials secret {arn} is not a JSON object")
    return document


def require_subscription(settings: AzureSettings) -> str:
    if not settings.subscription_id:
        raise AzureConfigError("Azure is not configured: set TMUX_BUILDER_AZURE_SUBSCRIPTION_ID")
    return settings.subscription_id


class LocalArmToken:
    """The local stand-in's static bearer token (a ``TokenCredential``; nothing to sign in to)."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken(LOCAL_ARM_TOKEN, 4_102_444_800)


def credential(settings: AzureSettings) -> TokenCredential:
    """An azure-identity credential for the management SDKs (the agent host)."""
    if settings.local_arm:
        return LocalArmToken()
    from azure.identity import ClientSecretCredential

    principal = service_principal(settings)
    return ClientSecretCredential(
        principal.tenant_id,
        principal.client_id,
        principal.client_secret,
        authority=settings.authority_host,
    )


def management_client(
    client_class: type[Any],
    settings: AzureSettings,
    token_credential: TokenCredential,
    transport: Any = None,
) -> Any:
    """A management SDK client for the configured subscription.

    ``transport`` replaces azure-core's HTTP transport (tests replay recorded exchanges);
    polling follows the service's ``Retry-After`` with a short default.
    """
    kwargs: dict[str, Any] = {"base_url": settings.management_endpoint, "polling_interval": 5}
    if transport is not None:
        kwargs["transport"] = transport
    if settings.local_arm:
        # azure-core's bearer policy refuses plain http; the stand-in listens on loopback only.
        kwargs["authentication_policy"] = _plain_bearer_policy(token_credential)
    return client_class(token_credential, require_subscription(settings), **kwargs)


def _plain_bearer_policy(token_credential: TokenCredential) -> Any:
    """A pipeline policy that sends the credential's token as ``Authorization: Bearer``."""
    from azure.core.pipeline.policies import SansIOHTTPPolicy

    class PlainBearerPolicy(SansIOHTTPPolicy):  # type: ignore[type-arg]
        def on_request(self, request: Any) -> None:
            token = token_credential.get_token("https://management.azure.com/.default").token
            request.http_request.headers["Authorization"] = f"Bearer {token}"

    return PlainBearerPolicy()


def describe(exc: BaseException) -> str:
    """``Code: message`` of an Azure error (what the service said; never a credential)."""
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None) or getattr(exc, "error_code", None)
    # Storage errors carry a str enum (StorageErrorCode), which formats as its member name.
    code = getattr(code, "value", code)
    message = getattr(error, "message", None) or getattr(exc, "message", None) or str(exc)
    first_line = str(message).strip().splitlines()[0] if str(message).strip() else ""
    return f"{code}: {first_line}" if code else first_line or type(exc).__name__


def is_not_found(exc: BaseException) -> bool:
    from azure.core.exceptions import ResourceNotFoundError

    if isinstance(exc, ResourceNotFoundError):
        return True
    return getattr(exc, "status_code", None) == 404
