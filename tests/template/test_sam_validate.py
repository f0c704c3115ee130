"""`sam validate --lint` passes on template.yaml, offline.

aws-sam-cli is heavy and pins its own dependency versions, so it lives in its own virtualenv,
``.venv-sam/`` at the repository root (gitignored), made on first use and reused after that:
a stamp file records the installed version, and a matching stamp skips the install (the first
run takes 40-90 s on a 2-core machine, a rerun under 10 s). ``TMUX_BUILDER_SAM`` names an
existing ``sam`` executable to use instead.

No AWS account is involved: the credentials are dummies and the metadata service is off.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from .conftest import ROOT, TEMPLATE

SAM_CLI_VERSION = "1.170.0"
VENV = ROOT / ".venv-sam"
STAMP = VENV / "tmux-builder-sam-version"
INSTALL_TIMEOUT_SECONDS = 900


def _offline_environment() -> dict[str, str]:
    keep = {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL"}
    environment = {key: value for key, value in os.environ.items() if key in keep}
    environment.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "SAM_CLI_TELEMETRY": "0",
            "SAM_CLI_CONTACT_TELEMETRY": "0",
        }
    )
    return environment


def ensure_sam() -> Path:
    """The pinned ``sam`` from ``.venv-sam/``, installing it when missing or outdated."""
    configured = os.environ.get("TMUX_BUILDER_SAM")
    if configured:
        return Path(configured)
    sam = VENV / "bin" / "sam"
    VENV.mkdir(exist_ok=True)
    # One installer at a time (parallel test runs share the folder).
    with (VENV / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if sam.is_file() and STAMP.is_file() and STAMP.read_text().strip() == SAM_CLI_VERSION:
            return sam
        started = time.monotonic()
        for entry in VENV.iterdir():
            if entry.name != ".lock":
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, timeout=120)
        subprocess.run(
            [
                str(VENV / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                f"aws-sam-cli=={SAM_CLI_VERSION}",
            ],
            check=True,
            timeout=INSTALL_TIMEOUT_SECONDS,
        )
        STAMP.write_text(SAM_CLI_VERSION + "\n")
        print(f"installed aws-sam-cli {SAM_CLI_VERSION} in {time.monotonic() - started:.0f} s")
    return sam


def test_sam_validate_lint_passes_offline() -> None:
    sam = ensure_sam()
    result = subprocess.run(
        [str(sam), "validate", "--lint", "--template", str(TEMPLATE), "--region", "us-east-1"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env=_offline_environment(),
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "is a valid SAM Template" in output, output
