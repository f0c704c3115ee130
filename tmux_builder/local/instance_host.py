"""The local stand-in for the virtual machines behind dynamic sites: runs each instance's app.

moto keeps EC2's control plane only: an instance it "runs" runs nothing. The deployers launch
real instances in moto, exactly as on AWS, with user-data that names the release to run
(:mod:`tmux_builder.dynamic_site`); this host makes them real:

- ``POST /instances/<id>``: the instance must exist in moto, be running and carry the
  ``Project=tmux-builder`` tag. Its user-data says which release (``s3://bucket/key``) it
  runs; that release is fetched from moto S3, unpacked into ``state_dir/<id>/``, and started
  with ``npm start`` and ``PORT`` set to a free port of its own (kept across restarts, so a
  redeploy keeps the URL). It answers ``{"url", "instance_id", "port", "release"}`` once the
  app accepts connections. Asked again for the same release while the app runs, it changes
  nothing; for a new release (a redeploy) it restarts the app, as the instance's reboot does.
- A watcher stops the app of every instance that moto no longer shows as running (terminated
  by teardown, or stopped), within about a second.
- ``DELETE /instances/<id>`` stops an app; ``GET /instances`` lists them; ``GET /health``.
- :meth:`InstanceHost.run_release` runs a release handed over in-process by another local
  stand-in (the Azure Resource Manager one, for a VM's cloud-init): same folders, ports and
  process handling, but no moto instance behind it, so the watcher leaves it alone and its
  owner stops it (:meth:`InstanceHost.unrun`).

Every app runs in its own process group, made to receive SIGTERM should the stack die without
cleaning up; :meth:`InstanceHost.stop` ends them all (SIGTERM, then SIGKILL). The release is
read with the stack's own credentials: that stands in for the instance role.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import hashlib
import io
import logging
import os
import shutil
import signal
import socket
import subprocess
import tarfile
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from tmux_builder.dynamic_site import PORT_ENV, InvalidUserData, site_config_from_user_data
from tmux_builder.local.control_api import ControlApi, json_response
from tmux_builder.local.moto_server import aws_client
from tmux_builder.naming import TAG_PROJECT

if TYPE_CHECKING:
    pass

__all__ = ["InstanceHost", "InstanceHostError", "RunningApp"]

logger = logging.getLogger(__name__)

_STOP_GRACE_S = 5.0
_LOG_TAIL_CHARS = 2000


class InstanceHostError(Exception):
    """The instance's app cannot run; ``status`` is the HTTP status the control API answers."""

    status = 500


class InstanceNotFound(InstanceHostError):
    status = 404


class InstanceNotServable(InstanceHostError):
    """Not running, not ours, or its user-data names no release."""

    status = 409


class AppDidNotStart(InstanceHostError):
    status = 502


@dataclass(frozen=True)
class RunningApp:
    instance_id: str
    url: str
    port: int
    release: str  # the release object's ETag
    pid: int


@dataclass
class _App:
    info: RunningApp
    process: subprocess.Popen[bytes]
    directory: Path


def _die_with_parent() -> None:
    """In the child: SIGTERM when the thread that started it (the host's spawner) dies."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class InstanceHost:
    """Runs the app of every running, tagged moto instance it is asked about (see module doc)."""

    def __init__(
        self,
        state_dir: Path,
        endpoint_url: str,
        *,
        host: str = "127.0.0.1",
        control_port: int = 0,
        region: str | None = None,
        watch_interval_s: float = 1.0,
        start_timeout_s: float = 30.0,
    ) -> None:
        self._state_dir = state_dir
        self._host = host
        self._control_port = control_port
        self._ec2 = aws_client("ec2", endpoint_url, region)
        self._s3 = aws_client("s3", endpoint_url, region)
        self._watch_interval_s = watch_interval_s
        self._start_timeout_s = start_timeout_s
        self._lock = threading.RLock()
        self._instance_locks: dict[str, threading.Lock] = {}
        self._apps: dict[str, _App] = {}
        self._ports: dict[str, int] = {}
        # Apps handed over by run_release: no moto instance, so never reaped by the watcher.
        self._handed_over: set[str] = set()
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None
        # One long-lived thread starts every app: PR_SET_PDEATHSIG fires when the *thread*
        # that forked the child ends, so a short-lived request thread must not do it.
        self._spawner: ThreadPoolExecutor | None = None
        self._control = ControlApi(
            "instance-host-control",
            [
                Rule("/instances", methods=["GET"], endpoint="list"),
                Rule("/instances/<instance_id>", methods=["POST"], endpoint="run"),
                Rule("/instances/<instance_id>", methods=["DELETE"], endpoint="stop"),
                Rule("/health", methods=["GET"], endpoint="health"),
            ],
            self._control_response,
            lambda exc: exc.status if isinstance(exc, InstanceHostError) else None,
        )

    # ------------------------------------------------------------------------ lifecycle

    @property
    def control_url(self) -> str:
        if not self._control.running:
            raise InstanceHostError("the instance host is not running")
        return self._control.url

    def start(self) -> InstanceHost:
        with self._lock:
            if self._control.running:
                return self
            self._state_dir.mkdir(parents=True, exist_ok=True)
            self._stopping.clear()
            self._spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="instance-spawn")
            self._control.start(self._host, self._control_port)
            self._watcher = threading.Thread(
                target=self._watch, name="instance-host-watch", daemon=True
            )
            self._watcher.start()
        return self

    def stop(self) -> None:
        """Stop every app (nothing outlives the stack), then the control endpoint."""
        self._stopping.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
            self._watcher = None
        with self._lock:
            for instance_id in list(self._apps):
                self._stop_app(instance_id)
            self._control.stop()
            if self._spawner is not None:
                self._spawner.shutdown(wait=True)
                self._spawner = None

    def __enter__(self) -> InstanceHost:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ------------------------------------------------------------------------ apps

    def apps(self) -> dict[str, RunningApp]:
        with self._lock:
            return {instance_id: app.info for instance_id, app in self._apps.items()}

    def run(self, instance_id: str) -> RunningApp:
        """Run the instance's current release (idempotent for an unchanged, running release)."""
        with self._lock:
            instance_lock = self._instance_locks.setdefault(instance_id, threading.Lock())
        with instance_lock:
            self._check_instance(instance_id)
            config = self._site_config(instance_id)
            etag = self._release_etag(instance_id, config.bucket, config.key)
            with self._lock:
                current = self._apps.get(instance_id)
            if current and current.info.release == etag and current.process.poll() is None:
                return current.info
            directory = self._unpack(instance_id, config.bucket, config.key)
            return self._start(instance_id, directory, etag)

    def run_release(self, instance_id: str, release: bytes) -> RunningApp:
        """Run ``release`` (``code/`` as a gzipped tar) as ``instance_id``'s app.

        Idempotent for the same bytes while the app runs; new bytes restart it on its port.
        """
        tag = '"' + hashlib.sha256(release).hexdigest() + '"'
        with self._lock:
            instance_lock = self._instance_locks.setdefault(instance_id, threading.Lock())
            self._handed_over.add(instance_id)
        with instance_lock:
            with self._lock:
                current = self._apps.get(instance_id)
            if current and current.info.release == tag and current.process.poll() is None:
                return current.info
            return self._start(instance_id, self._extract(instance_id, release), tag)

    def _start(self, instance_id: str, directory: Path, etag: str) -> RunningApp:
        """Replace the instance's app with the release in ``directory``; its port is kept."""
        with self._lock:
            self._stop_app(instance_id)
            port = self._ports.get(instance_id) or _free_port(self._host)
            self._ports[instance_id] = port
        process = self._spawn(directory, port)
        info = RunningApp(
            instance_id=instance_id,
            url=f"http://{self._host}:{port}/",
            port=port,
            release=etag,
            pid=process.pid,
        )
        with self._lock:
            self._apps[instance_id] = _App(info, process, directory)
        self._wait_listening(instance_id, process, directory, port)
        logger.info("instance %s runs its release at %s", instance_id, info.url)
        return info

    def unrun(self, instance_id: str) -> bool:
        with self._lock:
            if instance_id in self._handed_over:
                self._handed_over.discard(instance_id)
                self._ports.pop(instance_id, None)
            return self._stop_app(instance_id)

    def _check_instance(self, instance_id: str) -> None:
        instance = self._describe([instance_id]).get(instance_id)
        if instance is None:
            raise InstanceNotFound(f"no EC2 instance {instance_id!r}")
        state = instance.get("State", {}).get("Name")
        if state != "running":
            raise InstanceNotServable(f"instance {instance_id} is {state}, not running")
        tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
        if tags.get("Project") != TAG_PROJECT:
            raise InstanceNotServable(f"instance {instance_id} is not a {TAG_PROJECT} site")

    def _site_config(self, instance_id: str) -> Any:
        answer = self._ec2.describe_instance_attribute(InstanceId=instance_id, Attribute="userData")
        encoded = answer.get("UserData", {}).get("Value", "")
        try:
            user_data = base64.b64decode(encoded).decode("utf-8") if encoded else ""
            return site_config_from_user_data(user_data)
        except (InvalidUserData, ValueError) as exc:
            raise InstanceNotServable(f"instance {instance_id}: {exc}") from exc

    def _release_etag(self, instance_id: str, bucket: str, key: str) -> str:
        try:
            return str(self._s3.head_object(Bucket=bucket, Key=key)["ETag"])
        except self._s3.exceptions.ClientError as exc:
            raise InstanceNotServable(
                f"instance {instance_id}: release s3://{bucket}/{key} cannot be read: {exc}"
            ) from exc

    def _unpack(self, instance_id: str, bucket: str, key: str) -> Path:
        """A fresh folder with the release, extracted with tarfile's ``data`` filter (no links
        out, no devices, no absolute paths)."""
        body = self._s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return self._extract(instance_id, body)

    def _extract(self, instance_id: str, body: bytes) -> Path:
        base = self._state_dir / instance_id
        directory = base / f"release-{time.time_ns()}"
        directory.mkdir(parents=True)
        try:
            with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as archive:
                archive.extractall(directory, filter="data")
        except (tarfile.TarError, OSError) as exc:
            shutil.rmtree(directory, ignore_errors=True)
            raise InstanceNotServable(f"instance {instance_id}: bad release: {exc}") from exc
        return directory

    def _spawn(self, directory: Path, port: int) -> subprocess.Popen[bytes]:
        if self._spawner is None:
            raise InstanceHostError("the instance host is not running")
        home = directory.parent
        environment = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            PORT_ENV: str(port),
            "NODE_ENV": "production",
            "npm_config_cache": str(home / ".npm"),
            "npm_config_update_notifier": "false",
            "npm_config_fund": "false",
        }
        log_path = home / "app.log"

        def popen() -> subprocess.Popen[bytes]:
            with log_path.open("ab") as log:
                return subprocess.Popen(
                    ["npm", "start"],
                    cwd=directory,
                    env=environment,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=_die_with_parent,
                )

        return self._spawner.submit(popen).result()

    def _wait_listening(
        self, instance_id: str, process: subprocess.Popen[bytes], directory: Path, port: int
    ) -> None:
        deadline = time.monotonic() + self._start_timeout_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                with self._lock:
                    self._stop_app(instance_id)
                raise AppDidNotStart(
                    f"the app of {instance_id} exited with {process.returncode}:\n"
                    + _log_tail(directory.parent / "app.log")
                )
            try:
                with socket.create_connection((self._host, port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        with self._lock:
            self._stop_app(instance_id)
        raise AppDidNotStart(
            f"the app of {instance_id} did not listen on {PORT_ENV}={port} within "
            f"{self._start_timeout_s:.0f}s:\n" + _log_tail(directory.parent / "app.log")
        )

    def _stop_app(self, instance_id: str) -> bool:
        """End the app's whole process group (npm starts node as a child). Holds the lock."""
        app = self._apps.pop(instance_id, None)
        if app is None:
            return False
        _end_group(app.process)
        shutil.rmtree(app.directory, ignore_errors=True)
        logger.info("stopped the app of instance %s", instance_id)
        return True

    # ------------------------------------------------------------------------ watcher

    def _describe(self, instance_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Instances by id; unknown ids are simply absent."""
        try:
            answer = self._ec2.describe_instances(InstanceIds=instance_ids)
        except self._ec2.exceptions.ClientError as exc:
            if "NotFound" not in str(exc.response.get("Error", {}).get("Code", "")):
                raise
            if len(instance_ids) == 1:
                return {}
            found: dict[str, dict[str, Any]] = {}
            for instance_id in instance_ids:
                found.update(self._describe([instance_id]))
            return found
        return {i["InstanceId"]: dict(i) for r in answer["Reservations"] for i in r["Instances"]}

    def _watch(self) -> None:
        while not self._stopping.wait(self._watch_interval_s):
            try:
                self._reap()
            except Exception:  # noqa: BLE001 - the watcher must outlive one bad poll
                logger.exception("checking the instances' states failed")

    def _reap(self) -> None:
        with self._lock:
            served = [i for i in self._apps if i not in self._handed_over]
        if not served:
            return
        instances = self._describe(served)
        for instance_id in served:
            state = instances.get(instance_id, {}).get("State", {}).get("Name", "gone")
            if state in ("running", "pending"):
                continue
            with self._lock:
                if self._stop_app(instance_id):
                    logger.info("instance %s is %s: its app was stopped", instance_id, state)
                self._ports.pop(instance_id, None)

    # ------------------------------------------------------------------- control API

    def _control_response(
        self, endpoint: str, arguments: Mapping[str, str], _request: Request
    ) -> Response:
        if endpoint == "health":
            return json_response({"ok": True})
        if endpoint == "list":
            return json_response({"instances": [_app_json(info) for info in self.apps().values()]})
        instance_id = arguments["instance_id"]
        if endpoint == "run":
            return json_response(_app_json(self.run(instance_id)))
        if not self.unrun(instance_id):
            return json_response({"error": f"{instance_id} has no running app"}, 404)
        return json_response({"instance_id": instance_id, "running": False})


def _end_group(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=_STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=_STOP_GRACE_S)


def _log_tail(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-_LOG_TAIL_CHARS:]
    except OSError:
        return "(no log)"


def _app_json(info: RunningApp) -> dict[str, Any]:
    return {
        "instance_id": info.instance_id,
        "url": info.url,
        "port": info.port,
        "release": info.release,
    }
