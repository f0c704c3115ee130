"""The agent's log keeps its own INFO lines and only the warnings of the Azure SDKs.

A real azure-storage-blob request goes through azure-core's pipeline (replayed at the HTTP
transport), whose HTTP logging policy logs every request at INFO unless the agent quiets it.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from agent.main import QUIET_LOGGERS, configure_logging
from tests.fixtures.azure import Replay, transport

HTTP_LOGGER = "azure.core.pipeline.policies.http_logging_policy"
ACCOUNT = "t0123456789ab2lzc006pbsf"
KEY = "cmVwbGF5ZWQgYWNjb3VudCBrZXksIG5ldmVyIGEgcmVhbCBvbmU="


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """Whatever configure_logging changes is put back: other tests share these loggers."""
    root = logging.getLogger()
    names = {"azure", HTTP_LOGGER, *QUIET_LOGGERS}
    levels = {name: logging.getLogger(name).level for name in names}
    handlers, root_level = list(root.handlers), root.level
    try:
        yield
    finally:
        for handler in root.handlers:
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(root_level)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def _upload_one_blob() -> None:
    """One PUT of a blob through azure-storage-blob's real pipeline."""
    from azure.storage.blob import BlobClient

    replay = Replay(
        [
            {
                "request": {"method": "PUT", "path": "/%24web/index.html"},
                "response": {"status": 201, "headers": {"ETag": '"0x1"'}, "body": ""},
            }
        ]
    )
    blob = BlobClient(
        f"https://{ACCOUNT}.blob.core.windows.net",
        "$web",
        "index.html",
        credential={"account_name": ACCOUNT, "account_key": KEY},
        transport=transport(replay),
    )
    blob.upload_blob(io.BytesIO(b"<html></html>"), overwrite=True)
    assert replay.remaining == []


def _sdk_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith("azure")]


@pytest.mark.usefixtures("restored_logging")
def test_without_it_azure_core_logs_every_request_at_info(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The noise this guards against: proof that the check below can fail.
    for name in ("azure", HTTP_LOGGER):
        logging.getLogger(name).setLevel(logging.NOTSET)
    caplog.set_level(logging.INFO)

    _upload_one_blob()

    assert any(
        r.name == HTTP_LOGGER and r.levelno == logging.INFO and "Request URL" in r.getMessage()
        for r in caplog.records
    )


@pytest.mark.usefixtures("restored_logging")
def test_the_agent_keeps_azure_at_warning_and_its_own_lines_at_info(
    caplog: pytest.LogCaptureFixture,
) -> None:
    configure_logging()
    caplog.set_level(logging.INFO)

    _upload_one_blob()
    logging.getLogger("agent").info("deploy finished")
    logging.getLogger("azure.core.pipeline.policies.retry").warning("retrying after 503")

    for name in ("azure", HTTP_LOGGER, "azure.identity", "azure.storage.blob"):
        assert logging.getLogger(name).getEffectiveLevel() == logging.WARNING, name
    assert [(r.name, r.levelno) for r in _sdk_records(caplog)] == [
        ("azure.core.pipeline.policies.retry", logging.WARNING)
    ]
    assert ("agent", logging.INFO, "deploy finished") in caplog.record_tuples
