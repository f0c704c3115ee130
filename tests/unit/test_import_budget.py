"""Importing the Lambda module does not import the costly SDKs: they load on first use.

Every Lambda function of the control plane (routes and pipeline steps) imports
``control_plane.app``; boto3 alone is ~0.1 s of a cold start and the X-Ray SDK ~0.2 s. Speed
itself is measured by ``bench/import_time.py``, not asserted here: this checks the behaviour.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAZY = ("boto3", "botocore.session", "s3transfer", "aws_xray_sdk.core")


def test_importing_the_app_leaves_the_aws_sdks_unloaded() -> None:
    code = (
        "import json, sys; import control_plane.app; "
        f"print(json.dumps([m for m in {list(LAZY)!r} if m in sys.modules]))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
