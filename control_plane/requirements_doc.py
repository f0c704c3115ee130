"""Step 3: the requirements document the AI works from, stored in the artifacts bucket.

The document is built from the session record (what the person asked for and where it should
be hosted). Uploaded files will be listed here by their stored names, never by the name the
person's computer gave them.
"""

from __future__ import annotations

from control_plane import sessions
from tmux_builder import aws, naming
from tmux_builder.contracts import PipelineState
from tmux_builder.settings import cloud


def render(record: dict[str, str]) -> str:
    return (
        "# Requirements\n\n"
        f"{record['requirements'].strip()}\n\n"
        "## Hosting\n\n"
        f"- Provider: {record['provider']}\n"
        f"- Site type: {record['site_type']}\n\n"
        "## Uploaded files\n\n"
        "(none)\n"
    )


def store_requirements(state: PipelineState) -> str:
    record = sessions.get(state.user_id, state.session_id)
    key = naming.ArtifactKeys(state.user_id, state.session_id, state.execution_id).requirements
    aws.client("s3").put_object(
        Bucket=cloud().artifacts_bucket,
        Key=key,
        Body=render(record).encode(),
        ContentType="text/markdown; charset=utf-8",
    )
    return key
