"""The local stand-in for Azure Resource Manager: just what the azure/dynamic deployer sends.

There is no Azure emulator for Resource Manager. This is the smallest honest one, the way moto
stands in for AWS: :mod:`agent.deploy.azure_vm` runs unchanged through azure-mgmt-resource,
-network and -compute against it (``AzureSettings.management_endpoint`` is its URL,
``local_arm`` makes the clients present its static token). It keeps resources in memory and
answers every write at once with ``provisioningState: Succeeded``:

- ``PUT/GET/HEAD/DELETE /subscriptions/{sub}/resourcegroups/{group}``; deleting a group
  removes everything in it and stops the apps of its VMs;
- ``PUT/GET/DELETE`` of any ``.../providers/{namespace}/{type}/{name}`` in a group (the NSG,
  virtual network and subnet, public IP, NIC and VM), with the ids ARM gives child resources;
- ``POST .../virtualMachines/{name}/runCommand`` (``RunShellScript``): the release in the
  script's here-document replaces the VM's app, and the script's health line prints its marker
  when the app answers :data:`~tmux_builder.dynamic_site.HEALTH_PATH`;
- ``POST /{tenant}/oauth2/v2.0/token``: a client-credentials sign-in with the well-known local
  operator (:mod:`tmux_builder.azure`), for the control plane's teardown.

What a VM runs: when a VM is created, the release its cloud-init custom data carries (the
``write_files`` entry at :data:`~tmux_builder.azure.VM_RELEASE_PATH`) is handed to the stack's
instance host, which runs it with ``npm start`` on a free local port. The one place the answers
differ from Azure's: the public IP of that VM's NIC then reports ``127.0.0.1:<port>`` as its
DNS name, so the deployer's ``http://{fqdn}/`` is the app's local URL.

Every ARM call needs ``Authorization: Bearer`` with :data:`~tmux_builder.azure.LOCAL_ARM_TOKEN`
and an ``api-version``. Errors have ARM's shape: ``{"error": {"code", "message"}}``.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import logging
import threading
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlparse

from werkzeug.wrappers import Request, Response

from tmux_builder import azure
from tmux_builder.dynamic_site import HEALTH_PATH
from tmux_builder.local.gateway import BackgroundServer

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = ["AppRunner", "AzureArm", "ArmError"]

logger = logging.getLogger(__name__)

_VM_TYPE = "microsoft.compute/virtualmachines"
_IP_TYPE = "microsoft.network/publicipaddresses"
_NIC_TYPE = "microsoft.network/networkinterfaces"
# Child collections ARM gives ids to, per resource type.
_CHILDREN = {
    "microsoft.network/virtualnetworks": "subnets",
    "microsoft.network/networksecuritygroups": "securityRules",
    _NIC_TYPE: "ipConfigurations",
}
_HEALTH_TIMEOUT_S = 5.0


class RunningAppInfo(Protocol):
    @property
    def url(self) -> str: ...


class AppRunner(Protocol):
    """What runs a VM's app: :class:`tmux_builder.local.instance_host.InstanceHost`."""

    def run_release(self, instance_id: str, release: bytes) -> RunningAppInfo: ...

    def unrun(self, instance_id: str) -> bool: ...


class ArmError(Exception):
    """An ARM error answer: ``status`` with ``{"error": {"code", "message"}}``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class AzureArm:
    """The Resource Manager stand-in (see the module doc); ``start`` serves it on ``host``."""

    def __init__(
        self,
        runner: AppRunner,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        subscription: str = azure.LOCAL_SUBSCRIPTION,
    ) -> None:
        self._runner = runner
        self._host = host
        self._port = port
        self.subscription = subscription
        self._lock = threading.RLock()
        self._groups: dict[str, dict[str, Any]] = {}  # by lowercase name
        self._resources: dict[str, dict[str, Any]] = {}  # by lowercase id
        self._apps: dict[str, str] = {}  # VM id (lowercase) -> the runner's app key
        self._served_ips: dict[str, str] = {}  # public IP id (lowercase) -> host:port
        self._server: BackgroundServer | None = None

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the Azure Resource Manager stand-in is not running")
        return self._server.url

    def start(self) -> AzureArm:
        if self._server is None:
            self._server = BackgroundServer(self._wsgi, self._host, self._port, name="azure-arm")
        return self

    def stop(self) -> None:
        """Stop serving and stop every VM's app."""
        if self._server is not None:
            self._server.stop()
            self._server = None
        with self._lock:
            apps = list(self._apps.values())
            self._apps.clear()
            self._served_ips.clear()
        for key in apps:
            self._runner.unrun(key)

    def __enter__(self) -> AzureArm:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def environment(self) -> dict[str, str]:
        """The ``TMUX_BUILDER_AZURE_*`` settings that point Azure clients at this stand-in."""
        return {
            "TMUX_BUILDER_AZURE_LOCAL_ARM": "true",
            "TMUX_BUILDER_AZURE_MANAGEMENT_ENDPOINT": self.url,
            "TMUX_BUILDER_AZURE_AUTHORITY_HOST": self.url,
            "TMUX_BUILDER_AZURE_SUBSCRIPTION_ID": self.subscription,
            "TMUX_BUILDER_AZURE_TENANT_ID": azure.LOCAL_TENANT,
            "TMUX_BUILDER_AZURE_CLIENT_ID": azure.LOCAL_CLIENT_ID,
            "TMUX_BUILDER_AZURE_CLIENT_SECRET": azure.LOCAL_CLIENT_SECRET,
        }

    # ------------------------------------------------------------------ HTTP

    def _wsgi(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response = self._route(request)
        except ArmError as exc:
            response = _json({"error": {"code": exc.code, "message": str(exc)}}, exc.status)
        return response(environ, start_response)

    def _route(self, request: Request) -> Response:
        parts = [p for p in request.path.split("/") if p]
        lowered = [p.lower() for p in parts]
        if len(parts) == 4 and lowered[1:] == ["oauth2", "v2.0", "token"]:
            return self._token(parts[0], request)
        if len(parts) < 2 or lowered[0] != "subscriptions":
            raise ArmError(404, "InvalidResourceType", f"no such API: {request.path}")
        self._authorize(request)
        if parts[1].lower() != self.subscription.lower():
            raise ArmError(404, "SubscriptionNotFound", f"subscription {parts[1]} not found")
        if len(parts) == 4 and lowered[2] == "resourcegroups":
            return self._group(request, parts[3])
        if len(parts) == 8 and lowered[2] == "resourcegroups" and lowered[4] == "providers":
            return self._resource(request, parts)
        if (
            len(parts) == 9
            and lowered[2] == "resourcegroups"
            and f"{lowered[5]}/{lowered[6]}" == _VM_TYPE
            and lowered[8] == "runcommand"
            and request.method == "POST"
        ):
            return self._run_command(request, "/" + "/".join(parts[:8]))
        raise ArmError(400, "UnsupportedOperation", f"the stand-in does not serve {request.path}")

    def _token(self, tenant: str, request: Request) -> Response:
        form = request.form
        if (
            request.method != "POST"
            or tenant != azure.LOCAL_TENANT
            or form.get("client_id") != azure.LOCAL_CLIENT_ID
            or form.get("client_secret") != azure.LOCAL_CLIENT_SECRET
        ):
            document = {
                "error": "invalid_client",
                "error_description": "the local Resource Manager knows only the local operator",
            }
            return _json(document, 401)
        return _json(
            {"token_type": "Bearer", "expires_in": 3599, "access_token": azure.LOCAL_ARM_TOKEN}
        )

    def _authorize(self, request: Request) -> None:
        if request.headers.get("Authorization") != f"Bearer {azure.LOCAL_ARM_TOKEN}":
            raise ArmError(401, "AuthenticationFailed", "missing or unknown bearer token")
        if not request.args.get("api-version"):
            raise ArmError(
                400, "MissingApiVersionParameter", "the api-version query parameter is required"
            )

    # ------------------------------------------------------------------ resource groups

    def _group(self, request: Request, name: str) -> Response:
        key = name.lower()
        with self._lock:
            existing = self._groups.get(key)
            if request.method in ("GET", "HEAD"):
                if existing is None:
                    if request.method == "HEAD":
                        return Response(status=404)
                    raise _group_not_found(name)
                return _json(existing) if request.method == "GET" else Response(status=204)
            if request.method == "PUT":
                body = _body(request)
                document = {
                    "id": f"/subscriptions/{self.subscription}/resourceGroups/"
                    + (existing["name"] if existing else name),
                    "name": existing["name"] if existing else name,
                    "type": "Microsoft.Resources/resourceGroups",
                    "location": _location(body, existing),
                    "tags": body.get("tags") or {},
                    "properties": {"provisioningState": "Succeeded"},
                }
                self._groups[key] = document
                return _json(document, 200 if existing else 201)
            if request.method != "DELETE":
                raise ArmError(405, "MethodNotAllowed", f"{request.method} on a resource group")
            if existing is None:
                raise _group_not_found(name)
            prefix = existing["id"].lower() + "/"
            gone = [rid for rid in self._resources if rid.startswith(prefix)]
            del self._groups[key]
        for rid in gone:
            self._forget(rid)
        return Response(status=200)

    # ------------------------------------------------------------------ resources

    def _resource(self, request: Request, parts: list[str]) -> Response:
        group, namespace, kind, name = parts[3], parts[5], parts[6], parts[7]
        with self._lock:
            group_document = self._groups.get(group.lower())
        if group_document is None:
            raise _group_not_found(group)
        rid = f"{group_document['id']}/providers/{namespace}/{kind}/{name}"
        type_key = f"{namespace}/{kind}".lower()
        if request.method == "GET":
            return _json(self._view(self._get(rid)))
        if request.method == "DELETE":
            if not self._forget(rid.lower()):
                return Response(status=204)
            return Response(status=200)
        if request.method != "PUT":
            raise ArmError(405, "MethodNotAllowed", f"{request.method} on {kind}")
        body = _body(request)
        with self._lock:
            existing = self._resources.get(rid.lower())
        document: dict[str, Any] = {
            **{k: v for k, v in body.items() if k not in ("id", "name", "type", "properties")},
            "id": rid,
            "name": name,
            "type": f"{namespace}/{kind}",
            "location": _location(body, existing),
            "tags": body.get("tags") or {},
            "properties": copy.deepcopy(body.get("properties") or {}),
        }
        document["properties"]["provisioningState"] = "Succeeded"
        _name_children(document, type_key)
        release: bytes | None = None
        if type_key == _IP_TYPE:
            document["properties"].setdefault("ipAddress", "127.0.0.1")
            _set_fqdn(document)
        if type_key == _VM_TYPE:
            previous = (existing or {}).get("properties", {})
            document["properties"]["vmId"] = previous.get("vmId") or str(uuid.uuid4())
            custom_data = document["properties"].get("osProfile", {}).pop("customData", None)
            if existing is None and custom_data:  # Azure runs custom data on the first boot only
                release = _release_from_custom_data(str(custom_data))
        with self._lock:
            self._resources[rid.lower()] = document
        if release is not None:
            self._start_app(document, release)
        return _json(self._view(document), 200 if existing else 201)

    def _get(self, rid: str) -> dict[str, Any]:
        with self._lock:
            document = self._resources.get(rid.lower())
        if document is None:
            name = rid.rsplit("/", 1)[-1]
            raise ArmError(404, "ResourceNotFound", f"The Resource '{name}' was not found.")
        return document

    def _view(self, document: dict[str, Any]) -> dict[str, Any]:
        """The answer for a resource: a served VM's public IP names the app's local address."""
        view = copy.deepcopy(document)
        with self._lock:
            served = self._served_ips.get(document["id"].lower())
        if served:
            view["properties"].setdefault("dnsSettings", {})["fqdn"] = served
        return view

    def _forget(self, rid: str) -> bool:
        """Remove a resource; a VM's app stops with it."""
        with self._lock:
            document = self._resources.pop(rid.lower(), None)
            key = self._apps.pop(rid.lower(), None)
            if document is not None and document["type"].lower() == _VM_TYPE:
                for ip in self._public_ips_of(document):
                    self._served_ips.pop(ip, None)
            self._served_ips.pop(rid.lower(), None)
        if key is not None:
            self._runner.unrun(key)
        return document is not None

    # ------------------------------------------------------------------ the VM's app

    def _start_app(self, vm: dict[str, Any], release: bytes) -> Any:
        key = f"azure-vm-{vm['properties']['vmId']}"
        with self._lock:
            self._apps[vm["id"].lower()] = key
        try:
            app = self._runner.run_release(key, release)
        except Exception as exc:  # noqa: BLE001 - any failure is the VM's provisioning failing
            vm["properties"]["provisioningState"] = "Failed"
            raise ArmError(
                409, "VMProvisioningFailed", f"the app in the VM's custom data did not start: {exc}"
            ) from exc
        address = urlparse(app.url).netloc
        with self._lock:
            for ip in self._public_ips_of(vm):
                self._served_ips[ip] = address
        logger.info("VM %s runs its app at %s", vm["name"], app.url)
        return app

    def _public_ips_of(self, vm: dict[str, Any]) -> list[str]:
        """Lowercase ids of the public IPs on the VM's NICs (caller holds the lock)."""
        found = []
        profile = vm["properties"].get("networkProfile", {})
        for reference in profile.get("networkInterfaces", []):
            nic = self._resources.get(str(reference.get("id", "")).lower(), {})
            for config in nic.get("properties", {}).get("ipConfigurations", []):
                address = config.get("properties", {}).get("publicIPAddress", {}).get("id")
                if address:
                    found.append(str(address).lower())
        return found

    def _run_command(self, request: Request, vm_id: str) -> Response:
        vm = self._get(vm_id)
        body = _body(request)
        if body.get("commandId") != "RunShellScript":
            raise ArmError(400, "InvalidParameter", "commandId: only RunShellScript is served")
        script = [str(line) for line in body.get("script") or []]
        stdout: list[str] = []
        stderr = ""
        release = _release_from_script(script)
        if release is not None:
            try:
                app = self._start_app(vm, release)
            except ArmError as exc:
                stderr = str(exc)
            else:
                if any(f"echo {azure.VM_HEALTHY_MARKER}" in line for line in script) and (
                    _healthy(app.url)
                ):
                    stdout.append(azure.VM_HEALTHY_MARKER)
        message = "Enable succeeded: \n[stdout]\n" + "\n".join(stdout) + f"\n[stderr]\n{stderr}\n"
        return _json(
            {
                "value": [
                    {
                        "code": "ProvisioningState/succeeded",
                        "level": "Info",
                        "displayStatus": "Provisioning succeeded",
                        "message": message,
                    }
                ]
            }
        )


# --- helpers ---------------------------------------------------------------------------------


def _json(document: Any, status: int = 200) -> Response:
    return Response(json.dumps(document), status=status, content_type="application/json")


def _group_not_found(name: str) -> ArmError:
    return ArmError(404, "ResourceGroupNotFound", f"Resource group '{name}' could not be found.")


def _body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(request.get_data() or b"{}")
    except ValueError as exc:
        raise ArmError(400, "InvalidRequestContent", f"the body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise ArmError(400, "InvalidRequestContent", "the body must be a JSON object")
    return body


def _location(body: dict[str, Any], existing: dict[str, Any] | None) -> str:
    location = body.get("location") or (existing or {}).get("location")
    if not location:
        raise ArmError(400, "LocationRequired", "location: the location property is required")
    return str(location)


def _name_children(document: dict[str, Any], type_key: str) -> None:
    """Give child resources (subnets, rules, IP configurations) their ARM ids."""
    collection = _CHILDREN.get(type_key)
    if collection is None:
        return
    for child in document["properties"].get(collection) or []:
        child["id"] = f"{document['id']}/{collection}/{child.get('name', '')}"
        child.setdefault("properties", {})["provisioningState"] = "Succeeded"


def _set_fqdn(address: dict[str, Any]) -> None:
    dns = address["properties"].get("dnsSettings")
    if dns and dns.get("domainNameLabel"):
        dns["fqdn"] = f"{dns['domainNameLabel']}.{address['location']}.cloudapp.azure.com"


def _release_from_custom_data(custom_data: str) -> bytes | None:
    """The release cloud-init writes to :data:`~tmux_builder.azure.VM_RELEASE_PATH`, if any."""
    import yaml

    try:
        document = yaml.safe_load(base64.b64decode(custom_data).decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ArmError(400, "InvalidParameter", f"osProfile.customData: {exc}") from exc
    files = document.get("write_files") if isinstance(document, dict) else None
    for entry in files or []:
        if isinstance(entry, dict) and entry.get("path") == azure.VM_RELEASE_PATH:
            content = str(entry.get("content", ""))
            if entry.get("encoding") in ("b64", "base64"):
                return base64.b64decode(content)
            return content.encode()
    return None


def _release_from_script(script: list[str]) -> bytes | None:
    """The release a Run Command script writes with ``base64 -d > RELEASE <<'RELEASE'``."""
    opening = f"base64 -d > {azure.VM_RELEASE_PATH} <<'RELEASE'"
    if opening not in script:
        return None
    start = script.index(opening) + 1
    try:
        end = script.index("RELEASE", start)
    except ValueError as exc:
        raise ArmError(400, "InvalidParameter", "script: unterminated release") from exc
    try:
        return base64.b64decode("".join(script[start:end]))
    except binascii.Error as exc:
        raise ArmError(
            400, "InvalidParameter", f"script: the release is not base64: {exc}"
        ) from exc


def _healthy(url: str) -> bool:
    import requests

    try:
        answer = requests.get(url.rstrip("/") + HEALTH_PATH, timeout=_HEALTH_TIMEOUT_S)
    except requests.RequestException:
        return False
    return answer.status_code == 200
