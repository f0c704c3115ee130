"""Property-based fuzzing of the REST API on the embedded stack: no input gets a 5xx.

Schemathesis reads the API's own OpenAPI document and, for every operation, sends valid requests
(positive mode) and invalid ones (negative mode: wrong types, missing fields, out-of-range values,
odd path parameters) to a real ``tmux-builder up``. Once with the admin credential (the handlers
and the domain behind them), once without any (every protected operation answers 401).

The stack runs with no agent (``--agents 0``): valid create-user/admin-session calls start real
executions that then wait for an agent; nothing is built. Examples per operation and mode:
``TMUX_BUILDER_FUZZ_EXAMPLES`` (default 15: the module takes 30 s on 2 idle cores, 2 min busy).
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest
import requests

from tests.e2e.launcher import running_stack

pytestmark = [pytest.mark.e2e]
EXAMPLES = int(os.environ.get("TMUX_BUILDER_FUZZ_EXAMPLES", "15"))
REQUEST_TIMEOUT = 30


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    # No agent: valid creates start executions that wait; nothing is built.
    with running_stack(tmp_path_factory.mktemp("fuzz-stack"), "--agents", "0") as info:
        yield info


@dataclass
class Observed:
    """What the fuzzer saw: status codes per operation, and the answers that break a rule."""

    statuses: dict[str, dict[int, int]] = field(default_factory=lambda: defaultdict(dict))
    problems: list[str] = field(default_factory=list)

    def count(self, label: str, status: int) -> None:
        self.statuses[label][status] = self.statuses[label].get(status, 0) + 1


def _fuzz(
    schema: Any,
    api_url: str,
    headers: dict[str, str],
    examples: int,
    judge: Callable[[Any, Any], str | None],
    observed: Observed,
) -> None:
    """Every operation, positive and negative examples; ``judge`` names what is wrong, if any."""
    from hypothesis import HealthCheck, Phase, given, settings
    from schemathesis import GenerationMode

    def run(operation: Any, mode: GenerationMode) -> None:
        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.explicit, Phase.generate],
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def send(case: Any) -> None:
            response = case.call(base_url=api_url, headers=headers, timeout=REQUEST_TIMEOUT)
            observed.count(operation.label, response.status_code)
            problem = judge(operation, response)
            if problem:
                observed.problems.append(
                    f"{operation.label} [{mode.value}] -> {response.status_code}: {problem}\n"
                    f"  body: {response.text[:300]!r}\n"
                    f"  {case.as_curl_command(headers=headers, base_url=api_url)}"
                )

        send()

    for result in schema.get_all_operations():
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            run(result.ok(), mode)


def _report(observed: Observed, stack: dict[str, Any], secret: str | None = None) -> str:
    log = (stack["state_dir"] / "stack.log").read_text(errors="replace")
    errors = [line for line in log.splitlines() if "unhandled error" in line or "Traceback" in line]
    text = "\n".join(observed.problems[:25]) + "\n--- stack log (errors) ---\n"
    text += "\n".join(errors[-20:])
    return text.replace(secret, "$ADMIN_TOKEN") if secret else text


def _admin(stack: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack['admin_token']}"}


def _schema(stack: dict[str, Any], headers: dict[str, str]) -> Any:
    import schemathesis

    return schemathesis.openapi.from_url(
        stack["api_url"] + "/api/openapi.json", headers=headers, timeout=REQUEST_TIMEOUT
    )


def _labels(stack: dict[str, Any]) -> set[str]:
    document = requests.get(
        stack["api_url"] + "/api/openapi.json", headers=_admin(stack), timeout=10
    ).json()
    # The document itself takes no input to fuzz (test_openapi covers it).
    return {
        f"{m.upper()} {path}"
        for path, item in document["paths"].items()
        for m in item
        if path != "/api/openapi.json"
    }


def test_no_input_gets_a_server_error_from_the_admin_api(stack: dict[str, Any]) -> None:
    headers = {"Authorization": f"Bearer {stack['admin_token']}"}
    observed = Observed()

    def judge(operation: Any, response: Any) -> str | None:
        return "server error" if response.status_code >= 500 else None

    _fuzz(_schema(stack, headers), stack["api_url"], headers, EXAMPLES, judge, observed)

    assert not observed.problems, _report(observed, stack, stack["admin_token"])
    assert set(observed.statuses) == _labels(stack), "every operation was fuzzed"
    # The credential was accepted: every operation was reached past authentication.
    unreached = [label for label, seen in observed.statuses.items() if set(seen) <= {401}]
    assert not unreached, dict(observed.statuses)


def test_without_credentials_protected_operations_answer_401(stack: dict[str, Any]) -> None:
    document = requests.get(
        stack["api_url"] + "/api/openapi.json", headers=_admin(stack), timeout=10
    ).json()
    protected = {
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if operation.get("security")
    }
    assert protected, "the document marks protected operations"
    observed = Observed()

    def judge(operation: Any, response: Any) -> str | None:
        if response.status_code >= 500:
            return "server error"
        try:
            body = response.json()
        except ValueError:
            body = None
        # The gateway's own "no such route" (an odd path parameter) never reaches the app.
        answered_by_app = isinstance(body, dict) and "error" in body
        if operation.label in protected and answered_by_app and response.status_code != 401:
            return "a protected operation answered without a credential"
        return None

    _fuzz(
        _schema(stack, _admin(stack)), stack["api_url"], {}, max(2, EXAMPLES // 2), judge, observed
    )

    assert not observed.problems, _report(observed, stack)
    assert set(observed.statuses) == _labels(stack), "every operation was fuzzed"
    for label in protected & _labels(stack):
        assert 401 in observed.statuses[label], (label, dict(observed.statuses[label]))
    assert requests.get(stack["api_url"] + "/api/openapi.json", timeout=10).status_code == 401


# Inputs every route must refuse with a 4xx that says what is wrong, whatever its model.
_BAD_BODIES = {
    "malformed JSON": (b'{"email": ', "application/json"),
    "not an object": (b'["a", 1]', "application/json"),
    "empty body": (b"", "application/json"),
    "not UTF-8": (b"\xff\xfe{}", "application/json"),
    "oversized": (b'{"x": "' + b"a" * 70_000 + b'"}', "application/json"),
    "wrong media type": (b"{}", "text/plain"),
}
_BAD_IDS = ("../../etc/passwd", "$(reboot)", "a;rm -rf /", "x\x01y", "%00", "9" * 300, "é´∑")
_NASTY = "ok\x00\x1b[31m $(reboot) `id` ; rm -rf / | & > < '\" \\ ${IFS}"


def _names_the_problem(response: requests.Response) -> bool:
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and bool(body.get("message") or body.get("Message"))


def test_bad_input_gets_a_4xx_that_names_the_problem(stack: dict[str, Any]) -> None:
    """Deterministic companions to the fuzzer: the inputs item 7 lists, on every operation."""
    api = stack["api_url"]
    headers = {"Authorization": f"Bearer {stack['admin_token']}"}
    document = requests.get(api + "/api/openapi.json", headers=_admin(stack), timeout=10).json()
    problems: list[str] = []

    def check(method: str, url: str, body: bytes | None, content_type: str, what: str) -> None:
        response = requests.request(
            method,
            url,
            data=body,
            headers={**headers, "Content-Type": content_type},
            timeout=REQUEST_TIMEOUT,
        )
        if response.status_code >= 500 or (
            response.status_code >= 400 and not _names_the_problem(response)
        ):
            problems.append(
                f"{method} {url} [{what}] -> {response.status_code} {response.text[:200]}"
            )
        elif what in _BAD_BODIES and not 400 <= response.status_code < 500:
            problems.append(f"{method} {url} [{what}] accepted: {response.status_code}")

    for path, item in document["paths"].items():
        for method, operation in item.items():
            params = [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]
            url = api + path
            for name in params:
                url = url.replace("{" + name + "}", "x")
            if "requestBody" in operation:
                for what, (body, content_type) in _BAD_BODIES.items():
                    check(method.upper(), url, body, content_type, what)
                schema_ref = operation["requestBody"]["content"]["application/json"]["schema"]
                schema = document["components"]["schemas"][schema_ref["$ref"].rsplit("/", 1)[-1]]
                strings = {
                    name: _NASTY
                    for name, prop in schema.get("properties", {}).items()
                    if prop.get("type") == "string"
                }
                check(
                    method.upper(), url, json.dumps(strings).encode(), "application/json", "nasty"
                )
            for bad in _BAD_IDS:
                if not params:
                    break
                quoted = quote(bad, safe="")
                bad_url = api + path
                for name in params:
                    bad_url = bad_url.replace("{" + name + "}", quoted)
                id_body = b"{}" if "requestBody" in operation else None
                check(method.upper(), bad_url, id_body, "application/json", f"id {bad!r}")

    assert not problems, "\n".join(problems[:40]).replace(stack["admin_token"], "$ADMIN_TOKEN")
