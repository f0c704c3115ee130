"""The artifacts bucket as the agent uses it: requirements in, plans, code snapshots,
screenshots and reports out. A snapshot of the generated code means losing this host loses
no user work.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from tmux_builder import aws

_SKIP_DIRS = {"node_modules", ".git", "__pycache__", ".pytest_cache"}


class Artifacts:
    def __init__(self, bucket: str) -> None:
        self.bucket = bucket

    def read_text(self, key: str) -> str:
        body = aws.client("s3").get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return body.decode("utf-8")

    def upload_file(self, path: Path, key: str, content_type: str) -> str:
        aws.client("s3").upload_file(
            str(path), self.bucket, key, ExtraArgs={"ContentType": content_type}
        )
        return key

    def upload_tree(self, root: Path, key: str) -> tuple[str, int]:
        """A gzipped tar of ``root`` (without dependency folders); returns (key, file count)."""
        buffer = io.BytesIO()
        count = 0
        with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
            for path in sorted(root.rglob("*")):
                relative = path.relative_to(root)
                if any(part in _SKIP_DIRS for part in relative.parts) or not path.is_file():
                    continue
                archive.add(path, arcname=str(relative), recursive=False)
                count += 1
        aws.client("s3").put_object(
            Bucket=self.bucket, Key=key, Body=buffer.getvalue(), ContentType="application/gzip"
        )
        return key, count
