"""One embedded stack shared by the e2e modules that need nothing special of it.

Starting and stopping a stack costs ~20-30 s; the modules below build their own users' sites on
it and clean up only what is theirs. Modules that stop the stack, kill an agent or run a
different number of agents keep their own (test_embedded_stack, test_agent_crash,
test_two_agents, test_fuzz_api).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.launcher import running_stack


@pytest.fixture(scope="session")
def shared_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with running_stack(tmp_path_factory.mktemp("shared-stack")) as info:
        yield info
