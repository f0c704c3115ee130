"""The contract of a dynamic site, and how an instance learns which code to run.

One home for what the AI is told (``agent/prompts.py``), what the offline model writes, what
the deployers ship and what the embedded stack's instance host runs:

- ``code/`` is a small Node.js app: ``npm start`` in ``code/`` starts it; it listens on the port
  in ``PORT`` (8080 when unset) on all interfaces; ``GET /healthz`` answers 200 at once;
  ``GET /`` serves ``code/index.html``; other static files come only from ``code/assets/``.
- The deployer packs ``code/`` as a gzipped tar into the site's own private bucket
  (:data:`RELEASE_KEY`) and starts an instance whose user-data (:func:`render_user_data`) is a
  cloud-config: it writes :data:`SITE_CONFIG_PATH` (which bucket and key, which port) and a
  systemd service that fetches that release with the instance role at every start, then runs
  ``npm start``. A redeploy uploads a new release and reboots the instance.
- The embedded stack has no virtual machines: its instance host reads the same
  :data:`SITE_CONFIG_PATH` back out of the instance's user-data (:func:`site_config_from_user_data`)
  and runs the same release as a local process.

The user-data carries names only (a bucket, a key, a port), never a credential.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

START_COMMAND = "npm start"
PORT_ENV = "PORT"
DEFAULT_PORT = 8080
HEALTH_PATH = "/healthz"
ENTRY_PAGE = "index.html"
ASSETS_DIR = "assets"
PACKAGE_FILE = "package.json"

RELEASE_KEY = "release/app.tar.gz"
SITE_CONFIG_PATH = "/etc/tmux-builder/site.json"
SERVICE_NAME = "tmux-builder-site"
SITE_CONFIG_VERSION = 1
# The port the app listens on on an instance; the security group opens 80 and 443 only.
INSTANCE_PORT = 80


class InvalidUserData(ValueError):
    """User-data that does not say which release an instance runs."""


class SiteConfig(BaseModel):
    """What an instance runs: ``s3://{bucket}/{key}`` on ``port``."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    version: int = SITE_CONFIG_VERSION
    bucket: str = Field(min_length=3, max_length=63, pattern=r"^[a-z0-9][a-z0-9.-]*[a-z0-9]$")
    key: str = Field(min_length=1, max_length=1024)
    region: str = Field(min_length=1, max_length=32, pattern=r"^[a-z0-9-]+$")
    port: int = Field(default=INSTANCE_PORT, ge=1, le=65535)


def install_release_script(
    comment: str, archive: str, *, read_config: str = "", download: str = ""
) -> str:
    """A bash script that gets the release to ``archive`` (``read_config`` and ``download``
    lines, if any), unpacks it, installs its dependencies and swaps it in as ``/srv/site``
    (the previous one kept beside it).

    Every instance installs a release the same way; only how it gets there differs (fetched
    from S3 with the instance role on AWS, left by cloud-init or Run Command on Azure).
    """
    return f"""\
#!/bin/bash
# {comment}
set -euo pipefail
{read_config}WORK="$(mktemp -d /srv/tmux-builder-site.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
{download}install -d -m 0755 "$WORK/app"
tar -xzf {archive} -C "$WORK/app" --no-same-owner
if [ -f "$WORK/app/package-lock.json" ]; then
  (cd "$WORK/app" && npm ci --omit=dev --no-audit --no-fund --loglevel=error)
fi
chmod -R a+rX "$WORK/app"
rm -rf /srv/site.previous
if [ -d /srv/site ]; then mv /srv/site /srv/site.previous; fi
mv "$WORK/app" /srv/site
"""


def service_unit(prepare_command: str, port: int) -> str:
    """The systemd unit that runs the site: ``prepare_command`` (as root) installs the current
    release, then ``npm start`` runs as a throwaway user, allowed to bind port 80 only."""
    return f"""\
[Unit]
Description=tmux-builder site (npm start in the site's release)
Wants=network-online.target
After=network-online.target

[Service]
Environment={PORT_ENV}={port}
Environment=NODE_ENV=production
Environment=npm_config_cache=/tmp/npm-cache
ExecStartPre=+{prepare_command}
WorkingDirectory=/srv/site
ExecStart=/usr/bin/{START_COMMAND}
DynamicUser=yes
AmbientCapabilities=CAP_NET_BIND_SERVICE
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
Restart=always
RestartSec=3

[Install]
WantedBy=multi-user.target
"""


FETCH_COMMAND = "/usr/local/bin/tmux-builder-site-fetch"
_FETCH_SCRIPT = install_release_script(
    "Fetch the site's current release with the instance role, then unpack it for the service.",
    '"$WORK/app.tar.gz"',
    read_config="""CONFIG=/etc/tmux-builder/site.json
read_config() { python3 -c "import json,sys; print(json.load(open('$CONFIG'))[sys.argv[1]])" "$1"; }
BUCKET="$(read_config bucket)"
KEY="$(read_config key)"
REGION="$(read_config region)"
""",
    download='aws s3 cp --only-show-errors --region "$REGION" "s3://$BUCKET/$KEY" '
    '"$WORK/app.tar.gz"\n',
)

# Amazon Linux 2023: Node.js 20 from the distribution (nodejs when nodejs20 is not offered).
_INSTALL_NODE = (
    "dnf install -y nodejs20 nodejs20-npm && alternatives --set node /usr/bin/node-20 "
    "|| dnf install -y nodejs npm"
)


def render_user_data(config: SiteConfig) -> str:
    """The cloud-config that makes a fresh Amazon Linux instance run the site as a service."""
    import yaml

    document: dict[str, Any] = {
        "write_files": [
            {
                "path": SITE_CONFIG_PATH,
                "permissions": "0644",
                "content": config.model_dump_json() + "\n",
            },
            {
                "path": FETCH_COMMAND,
                "permissions": "0755",
                "content": _FETCH_SCRIPT,
            },
            {
                "path": f"/etc/systemd/system/{SERVICE_NAME}.service",
                "permissions": "0644",
                "content": service_unit(FETCH_COMMAND, config.port),
            },
        ],
        "runcmd": [
            ["sh", "-c", _INSTALL_NODE],
            ["systemctl", "daemon-reload"],
            ["systemctl", "enable", "--now", f"{SERVICE_NAME}.service"],
        ],
    }
    return "#cloud-config\n" + yaml.safe_dump(document, sort_keys=False, width=1000)


def site_config_from_user_data(user_data: str) -> SiteConfig:
    """The config :func:`render_user_data` wrote; :class:`InvalidUserData` when there is none."""
    import yaml

    if not user_data.startswith("#cloud-config"):
        raise InvalidUserData("the user-data is not a cloud-config")
    try:
        document = yaml.safe_load(user_data)
    except yaml.YAMLError as exc:
        raise InvalidUserData(f"the user-data is not valid YAML: {exc}") from exc
    files = document.get("write_files") if isinstance(document, dict) else None
    for entry in files or []:
        if isinstance(entry, dict) and entry.get("path") == SITE_CONFIG_PATH:
            try:
                return SiteConfig.model_validate(json.loads(str(entry.get("content", ""))))
            except (ValueError, ValidationError) as exc:
                raise InvalidUserData(f"{SITE_CONFIG_PATH} is not a site config: {exc}") from exc
    raise InvalidUserData(f"the user-data writes no {SITE_CONFIG_PATH}")
