"""Put a dynamic site live on one Azure VM, with azure-mgmt-network and azure-mgmt-compute.

Everything of the site is in its own resource group (``tmux-{prefix}-{slug}``, tagged like
every resource of the user), so teardown is one delete of that group:

- a network security group ``{name}-nsg`` whose only inbound rules allow TCP 80 and 443 from
  anywhere (a PUT with exactly these rules: any other rule found on it is dropped);
- a virtual network ``{name}-vnet`` with one subnet ``site`` bound to that group;
- a static Standard public IP ``{name}-ip`` with the DNS label ``{name}``: the site's URL is
  ``http://{name}.{location}.cloudapp.azure.com/``;
- a NIC ``{name}-nic`` and the VM ``{name}`` (Ubuntu 24.04 LTS), with password login disabled
  and an SSH public key as its only credential. The key pair is made for the VM and the
  private half is discarded at once: no one logs in to a site VM (an operator who must can
  reset access with ``az vm user update``), and nothing the AI can read ever holds a key.

The app follows the dynamic-site contract (:mod:`tmux_builder.dynamic_site`: a Node.js app in
``code/`` that ``npm start`` runs on ``$PORT``). Its release (``code/`` as a gzipped tar) travels
inside the VM's cloud-init custom data, which unpacks it and installs the same systemd service
the AWS instances run, on port 80. Azure limits custom data to 64 KiB, which holds the small
apps this system writes; a larger one is refused with that reason. A redeploy sends the new
release through Run Command to the same VM and restarts the service: same VM, same URL.

On the embedded stack the management endpoint is a local Resource Manager stand-in
(:mod:`tmux_builder.local.azure_arm`, ``AzureSettings.local_arm``): this same code runs against
it, and the stand-in runs the release from the custom data as a local process.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.deploy.aws_dynamic import package_release
from agent.deploy.azure_arm import AzureClients, azure_errors, ensure_resource_group
from agent.deploy.base import DeployOutcome, DeployRequest, SiteResource, not_recorded
from agent.deploy.site_files import page_title
from agent.errors import DeployError
from tmux_builder import azure, naming
from tmux_builder.contracts import DeployResult
from tmux_builder.dynamic_site import (
    ENTRY_PAGE,
    HEALTH_PATH,
    INSTANCE_PORT,
    SERVICE_NAME,
    install_release_script,
    service_unit,
)
from tmux_builder.settings import AzureSettings

ADMIN_USER = "azureuser"
SSH_KEY_PATH = f"/home/{ADMIN_USER}/.ssh/authorized_keys"
OPEN_PORTS = (80, 443)
IMAGE = {
    "publisher": "Canonical",
    "offer": "ubuntu-24_04-lts",
    "sku": "server",
    "version": "latest",
}
VNET_PREFIX = "10.20.0.0/16"
SUBNET_PREFIX = "10.20.0.0/24"
SUBNET = "site"
RELEASE_PATH = azure.VM_RELEASE_PATH
CUSTOM_DATA_MAX_BYTES = 65535
HEALTHY_MARKER = azure.VM_HEALTHY_MARKER

UNPACK_COMMAND = "/usr/local/bin/tmux-builder-site-unpack"
_UNPACK_SCRIPT = install_release_script(
    "Unpack the release cloud-init or Run Command left, install its dependencies, swap it in.",
    RELEASE_PATH,
)
_SERVICE_UNIT = service_unit(UNPACK_COMMAND, INSTANCE_PORT)


def deploy(request: DeployRequest) -> DeployOutcome:
    """The deployer for azure/dynamic (see :mod:`agent.deploy.base`)."""
    settings = AzureSettings()
    if settings.is_local and not settings.local_arm:
        raise DeployError(
            "azure/dynamic sites need Azure Resource Manager: set TMUX_BUILDER_AZURE_* for "
            "Azure, or run the embedded stack, whose stand-in sets TMUX_BUILDER_AZURE_LOCAL_ARM"
        )
    return deploy_vm_site(
        request.code_dir,
        AzureClients(settings),
        name=request.site.resource_name,
        tags=request.tags,
        progress=request.progress,
        record=request.record,
    )


def deploy_vm_site(
    code_dir: Path,
    clients: AzureClients,
    *,
    name: str,
    tags: dict[str, str],
    progress: Callable[[str], None],
    record: Callable[[SiteResource], None] = not_recorded,
) -> DeployOutcome:
    """Ship ``code_dir`` to the site's VM (creating it and its network the first time).

    The resource group, which holds everything else, is recorded as soon as it exists.
    """
    release, files = package_release(code_dir)
    title = page_title(code_dir / ENTRY_PAGE)
    group = naming.azure_resource_group_name(name)
    location = clients.settings.location
    metadata = {
        "subscription_id": clients.settings.subscription_id,
        "location": location,
        "vm": name,
    }
    site_group = SiteResource(azure.RESOURCE_GROUP, group, metadata)
    ensure_resource_group(clients, group, tags, progress, exists=lambda: record(site_group))
    nsg_id = ensure_security_group(clients, group, name, location, tags, progress)
    subnet_id = ensure_network(clients, group, name, location, nsg_id, tags, progress)
    ip_id = ensure_public_ip(clients, group, name, location, tags, progress)
    nic_id = ensure_nic(clients, group, name, location, subnet_id, ip_id, nsg_id, tags)

    compute = clients.compute
    with azure_errors(f"Reading VM {name}"):
        existing = _get_or_none(lambda: compute.virtual_machines.get(group, name))
    if existing is None:
        create_vm(clients, group, name, location, nic_id, release, tags, progress)
    else:
        send_release(clients, group, name, release, progress)

    fqdn = public_fqdn(clients, group, name)
    url = f"http://{fqdn}/"
    progress(f"Site live at {url}")
    # The fqdn is known only now; the caller keeps the first record of the group (the one above).
    return DeployOutcome(
        result=DeployResult(url=url, title=title, files=files),
        resources=[SiteResource(azure.RESOURCE_GROUP, group, {**metadata, "fqdn": fqdn})],
    )


# --- network -------------------------------------------------------------------------------------


def security_rules() -> list[dict[str, Any]]:
    """Inbound TCP 80 and 443 from anywhere; nothing else is allowed in."""
    return [
        {
            "name": f"allow-tcp-{port}",
            "properties": {
                "protocol": "Tcp",
                "direction": "Inbound",
                "access": "Allow",
                "priority": 100 + index * 10,
                "sourceAddressPrefix": "*",
                "sourcePortRange": "*",
                "destinationAddressPrefix": "*",
                "destinationPortRange": str(port),
            },
        }
        for index, port in enumerate(OPEN_PORTS)
    ]


def ensure_security_group(
    clients: AzureClients,
    group: str,
    name: str,
    location: str,
    tags: dict[str, str],
    progress: Callable[[str], None],
) -> str:
    body = {"location": location, "tags": tags, "properties": {"securityRules": security_rules()}}
    with azure_errors(f"Creating network security group {name}-nsg"):
        nsg = clients.network.network_security_groups.begin_create_or_update(
            group, f"{name}-nsg", body
        ).result()
    progress(f"Network security group {nsg.name}: inbound TCP 80 and 443 only")
    return str(nsg.id)


def ensure_network(
    clients: AzureClients,
    group: str,
    name: str,
    location: str,
    nsg_id: str,
    tags: dict[str, str],
    progress: Callable[[str], None],
) -> str:
    """The site's virtual network; the id of its one subnet."""
    body = {
        "location": location,
        "tags": tags,
        "properties": {
            "addressSpace": {"addressPrefixes": [VNET_PREFIX]},
            "subnets": [
                {
                    "name": SUBNET,
                    "properties": {
                        "addressPrefix": SUBNET_PREFIX,
                        "networkSecurityGroup": {"id": nsg_id},
                    },
                }
            ],
        },
    }
    with azure_errors(f"Creating virtual network {name}-vnet"):
        vnet = clients.network.virtual_networks.begin_create_or_update(
            group, f"{name}-vnet", body
        ).result()
    progress(f"Virtual network {vnet.name} ready")
    for subnet in vnet.properties.subnets or []:
        if subnet.name == SUBNET:
            return str(subnet.id)
    raise DeployError(f"virtual network {vnet.name} has no subnet {SUBNET}")


def ensure_public_ip(
    clients: AzureClients,
    group: str,
    name: str,
    location: str,
    tags: dict[str, str],
    progress: Callable[[str], None],
) -> str:
    body = {
        "location": location,
        "tags": tags,
        "sku": {"name": "Standard"},
        "properties": {
            "publicIPAllocationMethod": "Static",
            "publicIPAddressVersion": "IPv4",
            "dnsSettings": {"domainNameLabel": name},
        },
    }
    with azure_errors(f"Creating public IP {name}-ip"):
        address = clients.network.public_ip_addresses.begin_create_or_update(
            group, f"{name}-ip", body
        ).result()
    progress(f"Public IP {address.properties.ip_address or '(allocating)'} for {name}")
    return str(address.id)


def ensure_nic(
    clients: AzureClients,
    group: str,
    name: str,
    location: str,
    subnet_id: str,
    ip_id: str,
    nsg_id: str,
    tags: dict[str, str],
) -> str:
    body = {
        "location": location,
        "tags": tags,
        "properties": {
            "networkSecurityGroup": {"id": nsg_id},
            "ipConfigurations": [
                {
                    "name": "ipconfig",
                    "properties": {
                        "subnet": {"id": subnet_id},
                        "publicIPAddress": {"id": ip_id},
                        "privateIPAllocationMethod": "Dynamic",
                    },
                }
            ],
        },
    }
    with azure_errors(f"Creating network interface {name}-nic"):
        nic = clients.network.network_interfaces.begin_create_or_update(
            group, f"{name}-nic", body
        ).result()
    return str(nic.id)


def public_fqdn(clients: AzureClients, group: str, name: str) -> str:
    with azure_errors(f"Reading public IP {name}-ip"):
        address = clients.network.public_ip_addresses.get(group, f"{name}-ip")
    dns = address.properties.dns_settings if address.properties else None
    fqdn = dns.fqdn if dns else None
    if not fqdn:
        raise DeployError(f"public IP {name}-ip has no DNS name")
    return str(fqdn)


# --- the VM --------------------------------------------------------------------------------------


def new_ssh_public_key() -> str:
    """An OpenSSH RSA public key whose private half is never kept (see the module doc)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    private = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    public = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return public.decode() + " tmux-builder-site"


def cloud_init(release: bytes) -> str:
    """The cloud-config that installs Node.js, unpacks the release and runs the service."""
    import yaml

    document: dict[str, Any] = {
        "package_update": True,
        "packages": ["nodejs", "npm"],
        "write_files": [
            {
                "path": RELEASE_PATH,
                "permissions": "0600",
                "encoding": "b64",
                "content": base64.b64encode(release).decode(),
            },
            {
                "path": UNPACK_COMMAND,
                "permissions": "0755",
                "content": _UNPACK_SCRIPT,
            },
            {
                "path": f"/etc/systemd/system/{SERVICE_NAME}.service",
                "permissions": "0644",
                "content": _SERVICE_UNIT,
            },
        ],
        "runcmd": [
            ["systemctl", "daemon-reload"],
            ["systemctl", "enable", "--now", f"{SERVICE_NAME}.service"],
        ],
    }
    text = "#cloud-config\n" + yaml.safe_dump(document, sort_keys=False, width=1000)
    if len(text.encode()) > CUSTOM_DATA_MAX_BYTES:
        raise DeployError(
            f"the app's release makes {len(text.encode()) // 1024} KiB of cloud-init; "
            f"Azure custom data holds at most 64 KiB: keep code/ small (no bundled dependencies)"
        )
    return text


def create_vm(
    clients: AzureClients,
    group: str,
    name: str,
    location: str,
    nic_id: str,
    release: bytes,
    tags: dict[str, str],
    progress: Callable[[str], None],
) -> None:
    custom_data = base64.b64encode(cloud_init(release).encode()).decode()
    body = {
        "location": location,
        "tags": tags,
        "properties": {
            "hardwareProfile": {"vmSize": clients.settings.vm_size},
            "storageProfile": {
                "imageReference": IMAGE,
                "osDisk": {
                    "createOption": "FromImage",
                    "deleteOption": "Delete",
                    "managedDisk": {"storageAccountType": "Standard_LRS"},
                },
            },
            "osProfile": {
                "computerName": name[:64],
                "adminUsername": ADMIN_USER,
                "customData": custom_data,
                "linuxConfiguration": {
                    "disablePasswordAuthentication": True,
                    "ssh": {
                        "publicKeys": [{"path": SSH_KEY_PATH, "keyData": new_ssh_public_key()}]
                    },
                },
            },
            "networkProfile": {
                "networkInterfaces": [
                    {"id": nic_id, "properties": {"primary": True, "deleteOption": "Delete"}}
                ]
            },
        },
    }
    progress(f"Creating VM {name} ({clients.settings.vm_size}); first boot takes a few minutes")
    with azure_errors(f"Creating VM {name}"):
        clients.compute.virtual_machines.begin_create_or_update(group, name, body).result()
    progress(f"VM {name} is running")


def release_script(release: bytes) -> list[str]:
    """Run Command lines that put the new release in place and restart the service."""
    encoded = base64.b64encode(release).decode()
    return [
        "set -euo pipefail",
        f"install -d -m 0700 {Path(RELEASE_PATH).parent}",
        f"base64 -d > {RELEASE_PATH} <<'RELEASE'",
        *[encoded[i : i + 76] for i in range(0, len(encoded), 76)],
        "RELEASE",
        f"systemctl restart {SERVICE_NAME}.service",
        f"curl -fsS -o /dev/null --retry 15 --retry-delay 2 --retry-connrefused "
        f"http://127.0.0.1:{INSTANCE_PORT}{HEALTH_PATH} && echo {HEALTHY_MARKER}",
    ]


def send_release(
    clients: AzureClients,
    group: str,
    name: str,
    release: bytes,
    progress: Callable[[str], None],
) -> None:
    progress(f"Sending the new release to VM {name}")
    body = {"commandId": "RunShellScript", "script": release_script(release)}
    with azure_errors(f"Restarting the site on VM {name}"):
        result = clients.compute.virtual_machines.begin_run_command(group, name, body).result()
    # Linux Run Command reports "succeeded" whatever the script's exit code: the script's last
    # line says whether the app answers its health check.
    output = "\n".join(str(s.message or "") for s in (getattr(result, "value", None) or []))
    if HEALTHY_MARKER not in output:
        raise DeployError(f"the new release did not start on VM {name}: {output[-500:]}")
    progress(f"VM {name} restarted the site with the new release")


def _get_or_none(get: Callable[[], Any]) -> Any:
    from azure.core.exceptions import ResourceNotFoundError

    try:
        return get()
    except ResourceNotFoundError:
        return None
