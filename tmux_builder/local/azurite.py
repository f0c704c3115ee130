"""Azurite, Microsoft's Azure Storage emulator, as the embedded stack's Azure Blob.

Started from the pinned npm package (``node_modules/.bin/azurite-blob``) on loopback and a free
port, in memory (like moto, restarting the stack starts from empty cloud state), with
telemetry off: with it on, stopping waits ~20 s for an upload that cannot happen offline.
Azurite serves the Blob API only; it has no static-website endpoint (``$web`` settings
round-trip but nothing is served), so the local site server serves the containers.

Everything talks to the single well-known development account (``devstoreaccount1``).
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import IO, Any

from tmux_builder.azure import AZURITE_ACCOUNT, AZURITE_KEY

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
AZURITE_BIN = ROOT / "node_modules" / ".bin" / "azurite-blob"
_LISTENING = re.compile(r"Blob service (?:successfully listens|is successfully listening) on (\S+)")


class AzuriteError(Exception):
    """Azurite could not be started; the message says why and where its log is."""


def azurite_available(binary: Path = AZURITE_BIN) -> bool:
    return binary.exists() and shutil.which("node") is not None


def blob_credential() -> dict[str, str]:
    """The development account's shared key, as azure-storage-blob takes it."""
    return {"account_name": AZURITE_ACCOUNT, "account_key": AZURITE_KEY}


def blob_service(blob_endpoint: str, **kwargs: Any) -> Any:
    """A ``BlobServiceClient`` for the development account behind ``blob_endpoint``."""
    from azure.storage.blob import BlobServiceClient

    return BlobServiceClient(blob_endpoint, credential=blob_credential(), **kwargs)


class Azurite:
    """An ``azurite-blob`` child process; :attr:`blob_endpoint` once :meth:`start` returned."""

    def __init__(
        self,
        log_path: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        binary: Path = AZURITE_BIN,
        start_timeout_s: float = 30.0,
    ) -> None:
        self.log_path = log_path
        self.host = host
        self.port = port
        self.binary = binary
        self.start_timeout_s = start_timeout_s
        self.url = ""
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def blob_endpoint(self) -> str:
        """``http://127.0.0.1:PORT/devstoreaccount1``: the account URL clients take."""
        if not self.url:
            raise AzuriteError("Azurite is not running")
        return f"{self.url}/{AZURITE_ACCOUNT}"

    def start(self) -> Azurite:
        if self._process is not None:
            return self
        if not azurite_available(self.binary):
            raise AzuriteError(
                f"Azurite is not installed ({self.binary}); run `npm ci` in {ROOT} (make install)"
            )
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        command = [
            str(self.binary),
            "--blobHost",
            self.host,
            "--blobPort",
            str(self.port),
            "--inMemoryPersistence",
            "--disableTelemetry",
            "--skipApiVersionCheck",  # the SDK may be newer than the emulator
            "--loose",
        ]
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            self.url = self._wait_listening()
        except BaseException:
            self.stop()
            raise
        log.info("Azurite Blob at %s (log: %s)", self.url, self.log_path)
        return self

    def _wait_listening(self) -> str:
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            assert self._process is not None
            match = _LISTENING.search(self.log_path.read_text(errors="replace"))
            if match:
                return match.group(1).rstrip("/")
            if self._process.poll() is not None:
                raise AzuriteError(
                    f"Azurite exited with {self._process.returncode}; see {self.log_path}"
                )
            time.sleep(0.05)
        raise AzuriteError(
            f"Azurite did not start in {self.start_timeout_s:.0f}s; see {self.log_path}"
        )

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None
        self.url = ""

    def __enter__(self) -> Azurite:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
