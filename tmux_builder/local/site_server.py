"""The local stand-in for CloudFront's edge: serves deployed static sites from moto S3.

moto's CloudFront is a control plane only, and its S3 has no website semantics (``/`` lists the
bucket, there is no index document, private objects are not readable anonymously). The deployers
create real distributions in moto, exactly as on AWS; this server makes them reachable.

- A control endpoint: ``POST /distributions/<id>`` gives the distribution its own listener on
  127.0.0.1 (one port per distribution, so a site's absolute paths such as ``/assets/x.js``
  work) and answers ``{"url", "distribution_id", "domain_name"}``; it is idempotent.
  ``DELETE /distributions/<id>`` stops serving it; ``GET /distributions`` lists what is served.
- The mapping ``{distribution_id: port}`` is persisted in ``state_dir``, so after a restart
  each site is back at the same URL (a new port only if that one was taken), for every
  distribution that still exists.
- Each request re-reads the distribution and the object, so a redeploy (new objects, a
  disabled distribution) shows at once, as after a CloudFront invalidation.

Objects are read with the stack's own credentials: that stands in for the Origin Access Control
that lets CloudFront read a private bucket. The bucket itself stays private.

Azure static sites: Azurite has no static-website endpoint, so the same server plays it (and
Front Door) for blob containers of the development account: ``POST /containers/<name>`` gives
a container its own listener the same way (index document, ``404.html``, the content type and
cache control stored with each blob), ``DELETE`` and ``GET /containers`` likewise.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from tmux_builder.local.control_api import ControlApi, json_response
from tmux_builder.local.gateway import BackgroundServer
from tmux_builder.local.moto_server import aws_client
from tmux_builder.naming import AZURE_CONTAINER_RE

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = [
    "ContainerNotFound",
    "ContainerSiteInfo",
    "DistributionNotFound",
    "SiteInfo",
    "SiteServer",
    "SiteServerError",
    "bucket_from_origin",
]

logger = logging.getLogger(__name__)

STATE_FILE = "site-server.json"
EDGE_NAME = "local-edge"

# <bucket>.s3.amazonaws.com, <bucket>.s3.<region>.amazonaws.com, <bucket>.s3-<region>...,
# and the website endpoints <bucket>.s3-website[-.]<region>.amazonaws.com.
_S3_ORIGIN = re.compile(
    r"^(?P<bucket>[a-z0-9][a-z0-9.-]*?)\.s3(?:[.-](?:website[.-])?[a-z0-9-]+)?"
    r"(?:\.dualstack\.[a-z0-9-]+)?\.amazonaws\.com(?:\.cn)?$"
)


class SiteServerError(Exception):
    """The site server could not do what it was asked."""


class DistributionNotFound(SiteServerError):
    """No such distribution in moto CloudFront."""


class ContainerNotFound(SiteServerError):
    """No such blob container in Azurite (or no Azurite configured)."""


@dataclass(frozen=True)
class SiteInfo:
    """Where a distribution is served locally."""

    distribution_id: str
    url: str
    domain_name: str
    port: int


@dataclass(frozen=True)
class ContainerSiteInfo:
    """Where an Azurite blob container is served locally (the Azure static website)."""

    container: str
    url: str
    port: int


def bucket_from_origin(domain_name: str) -> str | None:
    """The bucket behind an S3 origin's domain name, or None for a custom origin."""
    match = _S3_ORIGIN.match(domain_name.lower())
    return match.group("bucket") if match else None


class SiteServer:
    """CloudFront's edge for every distribution it is asked to serve (see the module doc)."""

    def __init__(
        self,
        state_dir: Path,
        endpoint_url: str,
        *,
        host: str = "127.0.0.1",
        control_port: int = 0,
        region: str | None = None,
        azure_blob_endpoint: str = "",
    ) -> None:
        self._state_file = state_dir / STATE_FILE
        self._azure_blob_endpoint = azure_blob_endpoint
        self._blob_service: Any = None
        self._containers: dict[str, tuple[ContainerSiteInfo, BackgroundServer]] = {}
        self._host = host
        self._control_port = control_port
        self._cloudfront = aws_client("cloudfront", endpoint_url, region)
        self._s3 = aws_client("s3", endpoint_url, region)
        self._lock = threading.RLock()
        self._sites: dict[str, tuple[SiteInfo, BackgroundServer]] = {}
        self._control = ControlApi(
            "site-server-control",
            [
                Rule("/distributions", methods=["GET"], endpoint="list"),
                Rule("/distributions/<distribution_id>", methods=["GET"], endpoint="show"),
                Rule("/distributions/<distribution_id>", methods=["POST"], endpoint="serve"),
                Rule("/distributions/<distribution_id>", methods=["DELETE"], endpoint="unserve"),
                Rule("/containers", methods=["GET"], endpoint="list_containers"),
                Rule("/containers/<container>", methods=["POST"], endpoint="serve_container"),
                Rule("/containers/<container>", methods=["DELETE"], endpoint="unserve_container"),
                Rule("/health", methods=["GET"], endpoint="health"),
            ],
            self._control_response,
            lambda exc: 404 if isinstance(exc, DistributionNotFound | ContainerNotFound) else None,
        )

    # ------------------------------------------------------------------------ lifecycle

    @property
    def control_url(self) -> str:
        if not self._control.running:
            raise SiteServerError("the site server is not running")
        return self._control.url

    def start(self) -> SiteServer:
        """Open the control endpoint and re-open the persisted sites that still exist."""
        with self._lock:
            if self._control.running:
                return self
            self._control.start(self._host, self._control_port)
            distributions, containers = self._read_state()
            for distribution_id, port in distributions.items():
                try:
                    self._serve(distribution_id, port, persist=False)
                except DistributionNotFound:
                    logger.info("distribution %s no longer exists; not serving it", distribution_id)
            for container, port in containers.items():
                try:
                    self._serve_container(container, port, persist=False)
                except ContainerNotFound:
                    logger.info("container %s no longer exists; not serving it", container)
            self._write_state()
        return self

    def stop(self) -> None:
        """Close every listener; the state file keeps the ports for the next start."""
        with self._lock:
            for _, server in self._sites.values():
                server.stop()
            self._sites.clear()
            for _, container_server in self._containers.values():
                container_server.stop()
            self._containers.clear()
            self._control.stop()

    def __enter__(self) -> SiteServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ------------------------------------------------------------------------ serving

    def sites(self) -> dict[str, SiteInfo]:
        with self._lock:
            return {distribution_id: info for distribution_id, (info, _) in self._sites.items()}

    def serve(self, distribution_id: str) -> SiteInfo:
        """Serve a distribution on a port of its own. Idempotent: same id, same URL."""
        return self._serve(distribution_id, 0, persist=True)

    def _serve(self, distribution_id: str, preferred_port: int, *, persist: bool) -> SiteInfo:
        distribution = self._distribution(distribution_id)
        if distribution is None:
            raise DistributionNotFound(f"no CloudFront distribution {distribution_id!r}")
        with self._lock:
            if distribution_id in self._sites:
                return self._sites[distribution_id][0]
            server = self._listen(distribution_id, preferred_port)
            info = SiteInfo(
                distribution_id=distribution_id,
                url=server.url,
                domain_name=str(distribution.get("DomainName", "")),
                port=server.port,
            )
            self._sites[distribution_id] = (info, server)
            if persist:
                self._write_state()
            logger.debug("serving distribution %s at %s", distribution_id, info.url)
            return info

    def unserve(self, distribution_id: str) -> bool:
        """Stop serving a distribution and forget its port. False if it was not served."""
        with self._lock:
            entry = self._sites.pop(distribution_id, None)
            if entry is None:
                return False
            entry[1].stop()
            self._write_state()
            return True

    def _listen(self, distribution_id: str, port: int) -> BackgroundServer:
        app = _EdgeApp(distribution_id, self._distribution, self._s3)
        name = f"site-{distribution_id}"
        try:
            return BackgroundServer(app, self._host, port, name=name)
        except OSError:
            if port == 0:
                raise
            logger.warning("port %d for %s is taken; using a new one", port, distribution_id)
            return BackgroundServer(app, self._host, 0, name=name)

    def _distribution(self, distribution_id: str) -> dict[str, Any] | None:
        try:
            return dict(self._cloudfront.get_distribution(Id=distribution_id)["Distribution"])
        except self._cloudfront.exceptions.NoSuchDistribution:
            return None

    # ------------------------------------------------------------ Azure blob containers

    def containers(self) -> dict[str, ContainerSiteInfo]:
        with self._lock:
            return {name: info for name, (info, _) in self._containers.items()}

    def serve_container(self, container: str) -> ContainerSiteInfo:
        """Serve an Azurite container on a port of its own. Idempotent: same name, same URL."""
        return self._serve_container(container, 0, persist=True)

    def unserve_container(self, container: str) -> bool:
        with self._lock:
            entry = self._containers.pop(container, None)
            if entry is None:
                return False
            entry[1].stop()
            self._write_state()
            return True

    def _serve_container(
        self, container: str, preferred_port: int, *, persist: bool
    ) -> ContainerSiteInfo:
        client = self._container_client(container)
        if client is None or not client.exists():
            raise ContainerNotFound(f"no blob container {container!r} in Azurite")
        with self._lock:
            if container in self._containers:
                return self._containers[container][0]
            app = _BlobWebsiteApp(client)
            name = f"container-{container}"
            try:
                server = BackgroundServer(app, self._host, preferred_port, name=name)
            except OSError:
                if preferred_port == 0:
                    raise
                logger.warning(
                    "port %d for %s is taken; using a new one", preferred_port, container
                )
                server = BackgroundServer(app, self._host, 0, name=name)
            info = ContainerSiteInfo(container=container, url=server.url, port=server.port)
            self._containers[container] = (info, server)
            if persist:
                self._write_state()
            return info

    def _container_client(self, container: str) -> Any:
        if not self._azure_blob_endpoint or not AZURE_CONTAINER_RE.match(container):
            return None
        if self._blob_service is None:
            from tmux_builder.local.azurite import blob_service

            self._blob_service = blob_service(self._azure_blob_endpoint)
        return self._blob_service.get_container_client(container)

    def _container_response(self, endpoint: str, arguments: Mapping[str, str]) -> Response:
        if endpoint == "list_containers":
            return json_response({"containers": [asdict(i) for i in self.containers().values()]})
        container = arguments["container"]
        if endpoint == "serve_container":
            return json_response(asdict(self.serve_container(container)))
        if not self.unserve_container(container):
            return json_response({"error": f"{container} is not served"}, 404)
        return json_response({"container": container, "served": False})

    # -------------------------------------------------------------------------- state

    def _read_state(self) -> tuple[dict[str, int], dict[str, int]]:
        """(distribution ports, container ports) from the state file."""
        try:
            document = json.loads(self._state_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}, {}
        except (OSError, ValueError) as exc:
            logger.warning("ignoring unreadable %s: %s", self._state_file, exc)
            return {}, {}
        if not isinstance(document, dict):
            return {}, {}
        ports = document.get("distributions", {})
        containers = document.get("containers", {})
        return (
            {str(key): int(value) for key, value in ports.items()},
            {str(key): int(value) for key, value in containers.items()},
        )

    def _write_state(self) -> None:
        """Write the mapping atomically: a crash mid-write must not lose every site's URL."""
        with self._lock:
            mapping = {distribution_id: info.port for distribution_id, info in self.sites().items()}
            containers = {name: info.port for name, info in self.containers().items()}
            document = {"version": 1, "distributions": mapping, "containers": containers}
            self._state_file.parent.mkdir(parents=True, exist_ok=True)
            temporary = self._state_file.with_suffix(f".{os.getpid()}.tmp")
            temporary.write_text(json.dumps(document, indent=2, sort_keys=True), encoding="utf-8")
            temporary.replace(self._state_file)

    # ------------------------------------------------------------------- control API

    def _control_response(
        self, endpoint: str, arguments: Mapping[str, str], request: Request
    ) -> Response:
        if endpoint == "health":
            return json_response({"ok": True})
        if endpoint == "list":
            return json_response(
                {"distributions": [_site_json(info) for info in self.sites().values()]}
            )
        if endpoint.endswith("container") or endpoint == "list_containers":
            return self._container_response(endpoint, arguments)
        distribution_id = arguments["distribution_id"]
        if endpoint == "serve":
            return json_response(_site_json(self.serve(distribution_id)))
        if endpoint == "unserve":
            if not self.unserve(distribution_id):
                return json_response({"error": f"{distribution_id} is not served"}, 404)
            return json_response({"distribution_id": distribution_id, "served": False})
        info = self.sites().get(distribution_id)
        if info is None:
            return json_response({"error": f"{distribution_id} is not served"}, 404)
        return json_response(_site_json(info))


def _site_json(info: SiteInfo) -> dict[str, Any]:
    return asdict(info)


class _EdgeApp:
    """One distribution's listener: CloudFront in front of an S3 origin, no cache."""

    def __init__(self, distribution_id: str, lookup: Any, s3: Any) -> None:
        self._distribution_id = distribution_id
        self._lookup = lookup
        self._s3 = s3

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        return self._respond(request)(environ, start_response)

    def _respond(self, request: Request) -> Response:
        if request.method not in {"GET", "HEAD"}:
            return _edge_error(403, "This distribution only allows GET and HEAD.")
        distribution = self._lookup(self._distribution_id)
        if distribution is None:
            return _edge_error(404, f"Distribution {self._distribution_id} does not exist.")
        config = distribution["DistributionConfig"]
        if not config.get("Enabled", True):
            return _edge_error(403, "The distribution is disabled.")
        origin = _default_origin(config)
        bucket = bucket_from_origin(str(origin.get("DomainName", ""))) if origin else None
        if bucket is None:
            return _edge_error(502, "The origin is not an S3 bucket; only S3 origins are served.")
        prefix = str(origin.get("OriginPath", "") if origin else "").strip("/")
        key = _object_key(request.path, str(config.get("DefaultRootObject") or ""))
        if key is None:
            return _edge_error(403, "No DefaultRootObject is configured for this distribution.")
        found = self._get(bucket, _join(prefix, key))
        if found is not None:
            return _object_response(found, 200, request)
        return self._not_found(bucket, prefix, config, request)

    def _not_found(
        self, bucket: str, prefix: str, config: Mapping[str, Any], request: Request
    ) -> Response:
        """CustomErrorResponses first (the SPA pattern), else the origin's 404.html, else 404."""
        custom = {
            int(item["ErrorCode"]): item
            for item in (config.get("CustomErrorResponses") or {}).get("Items") or []
        }
        # With Origin Access Control and no s3:ListBucket, S3 answers 403 for a missing key.
        for code in (404, 403):
            rule = custom.get(code)
            if rule and rule.get("ResponsePagePath"):
                page = self._get(bucket, _join(prefix, str(rule["ResponsePagePath"]).lstrip("/")))
                if page is not None:
                    return _object_response(page, int(rule.get("ResponseCode") or code), request)
        page = self._get(bucket, _join(prefix, "404.html"))
        if page is not None:
            return _object_response(page, 404, request)
        return _edge_error(404, "Not Found")

    def _get(self, bucket: str, key: str) -> dict[str, Any] | None:
        try:
            found = self._s3.get_object(Bucket=bucket, Key=key)
        except (self._s3.exceptions.NoSuchKey, self._s3.exceptions.NoSuchBucket):
            return None
        except self._s3.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise
        found["Body"] = found["Body"].read()
        return dict(found)


def _default_origin(config: Mapping[str, Any]) -> Mapping[str, Any] | None:
    target = (config.get("DefaultCacheBehavior") or {}).get("TargetOriginId")
    origins = (config.get("Origins") or {}).get("Items") or []
    for origin in origins:
        if origin.get("Id") == target:
            return dict(origin)
    return dict(origins[0]) if origins else None


def _object_key(path: str, default_root_object: str) -> str | None:
    """``/`` -> the DefaultRootObject; ``/dir/`` -> ``dir/index.html``; else the path."""
    if path in {"", "/"}:
        return default_root_object.lstrip("/") or None
    key = path.lstrip("/")
    return key + "index.html" if key.endswith("/") else key


def _join(prefix: str, key: str) -> str:
    return f"{prefix}/{key}" if prefix else key


def _object_response(found: Mapping[str, Any], status: int, request: Request) -> Response:
    response = Response(
        found["Body"],
        status=status,
        content_type=str(found.get("ContentType") or "application/octet-stream"),
    )
    for header, field in (
        ("Cache-Control", "CacheControl"),
        ("Content-Encoding", "ContentEncoding"),
        ("Content-Language", "ContentLanguage"),
        ("Content-Disposition", "ContentDisposition"),
        ("ETag", "ETag"),
    ):
        if found.get(field):
            response.headers[header] = str(found[field])
    if found.get("LastModified"):
        response.last_modified = found["LastModified"]
    response.headers["X-Cache"] = f"Miss from {EDGE_NAME}"
    response.headers["Via"] = f"1.1 {EDGE_NAME} (tmux-builder)"
    response.headers["X-Amz-Cf-Id"] = uuid.uuid4().hex
    if status == 200:
        response.make_conditional(request)
    return response


def _edge_error(status: int, message: str) -> Response:
    page = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{status}</title></head><body><h1>{status}</h1><p>{message}</p>"
        f"<hr><p>Generated by {EDGE_NAME} (tmux-builder)</p></body></html>"
    )
    response = Response(page, status=status, content_type="text/html; charset=utf-8")
    response.headers["X-Cache"] = f"Error from {EDGE_NAME}"
    return response


class _BlobWebsiteApp:
    """One container's listener: what an Azure static website (behind Front Door) answers.

    ``/`` and ``dir/`` serve ``index.html``; a missing blob serves ``404.html`` with status
    404 when the site has one. Each request reads the blob again, so a redeploy shows at once.
    """

    def __init__(self, container: Any) -> None:
        self._container = container

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        return self._respond(Request(environ))(environ, start_response)

    def _respond(self, request: Request) -> Response:
        if request.method not in {"GET", "HEAD"}:
            return _edge_error(405, "Only GET and HEAD are allowed.")
        key = _object_key(request.path, "index.html") or "index.html"
        found = self._get(key)
        if found is not None:
            return _object_response(found, 200, request)
        page = self._get("404.html")
        if page is not None:
            return _object_response(page, 404, request)
        return _edge_error(404, "The requested content does not exist.")

    def _get(self, key: str) -> dict[str, Any] | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            downloader = self._container.download_blob(key)
            body = downloader.readall()
        except ResourceNotFoundError:
            return None
        properties = downloader.properties
        settings = properties.content_settings
        return {
            "Body": body,
            "ContentType": settings.content_type,
            "CacheControl": settings.cache_control,
            "ContentEncoding": settings.content_encoding,
            "ContentLanguage": settings.content_language,
            "ContentDisposition": settings.content_disposition,
            "ETag": properties.etag,
            "LastModified": properties.last_modified,
        }
