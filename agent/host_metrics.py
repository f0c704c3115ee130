"""How full this agent host is, published for the auto scaling group.

Sessions stay on the host that holds their lease, so the shared queue's depth alone says little
about load: a host full of sessions takes their steps and chat from its own queue. Each host
therefore publishes the number of sessions it holds (``tmux-builder/SessionsPerHost``, dimension
``AutoScalingGroupName``), and the group's target-tracking policy (template.yaml,
``AgentSessionsTracking``) adds a host when the average passes ``AgentTargetSessionsPerHost``.
A host's first publish happens at once, later ones once per ``interval`` (the lease keeper
calls :meth:`HostMetrics.publish` on every tick). A failed publish is logged and retried on the
next tick: metrics never stop the agent.

Without a scaling group (the embedded stack, a single host) nothing is published.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from tmux_builder import aws

log = logging.getLogger(__name__)

NAMESPACE = "tmux-builder"
SESSIONS_PER_HOST = "SessionsPerHost"


class HostMetrics:
    """Publishes ``SessionsPerHost`` for one host of ``scaling_group``."""

    def __init__(
        self,
        scaling_group: str,
        sessions_held: Callable[[], int],
        interval: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.scaling_group = scaling_group
        self.sessions_held = sessions_held
        self.interval = interval
        self.clock = clock
        self._last: float | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.scaling_group)

    def publish(self) -> bool:
        """Publish the current count if one is due; True when a data point was sent."""
        if not self.enabled:
            return False
        now = self.clock()
        if self._last is not None and now - self._last < self.interval:
            return False
        from botocore.exceptions import BotoCoreError, ClientError

        count = self.sessions_held()
        try:
            aws.client("cloudwatch").put_metric_data(
                Namespace=NAMESPACE,
                MetricData=[
                    {
                        "MetricName": SESSIONS_PER_HOST,
                        "Dimensions": [
                            {"Name": "AutoScalingGroupName", "Value": self.scaling_group}
                        ],
                        "Value": float(count),
                        "Unit": "Count",
                    }
                ],
            )
        except (BotoCoreError, ClientError):
            log.warning("could not publish %s; will try again", SESSIONS_PER_HOST, exc_info=True)
            return False
        self._last = now
        return True
