"""The host's session count reaches CloudWatch for the auto scaling group, against moto."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from agent.host_metrics import NAMESPACE, SESSIONS_PER_HOST, HostMetrics
from tests.tools import in_process_moto
from tmux_builder import aws

GROUP = "tmux-builder-agents"


@pytest.fixture
def _moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with in_process_moto(monkeypatch):
        yield


def _published() -> list[float]:
    """Every SessionsPerHost data point of the group, oldest first."""
    now = datetime.now(UTC)
    answer = aws.client("cloudwatch").get_metric_data(
        MetricDataQueries=[
            {
                "Id": "sessions",
                "MetricStat": {
                    "Metric": {
                        "Namespace": NAMESPACE,
                        "MetricName": SESSIONS_PER_HOST,
                        "Dimensions": [{"Name": "AutoScalingGroupName", "Value": GROUP}],
                    },
                    "Period": 1,
                    "Stat": "Sum",
                },
            }
        ],
        StartTime=now - timedelta(minutes=5),
        EndTime=now + timedelta(minutes=1),
    )
    result = answer["MetricDataResults"][0]
    return [value for _, value in sorted(zip(result["Timestamps"], result["Values"], strict=True))]


def test_the_count_is_published_at_once_then_once_per_interval(_moto: None) -> None:
    held = [3]
    clock = [100.0]
    metrics = HostMetrics(GROUP, lambda: held[0], interval=60, clock=lambda: clock[0])

    assert metrics.publish() is True
    held[0] = 5
    clock[0] += 10
    assert metrics.publish() is False  # not due yet: the lease keeper ticks far more often
    clock[0] += 50
    assert metrics.publish() is True

    assert sum(_published()) == 3 + 5
    listed = aws.client("cloudwatch").list_metrics(Namespace=NAMESPACE)["Metrics"]
    assert [(m["MetricName"], m["Dimensions"]) for m in listed] == [
        (SESSIONS_PER_HOST, [{"Name": "AutoScalingGroupName", "Value": GROUP}])
    ]


def test_without_a_scaling_group_nothing_is_published(_moto: None) -> None:
    metrics = HostMetrics("", lambda: 7)

    assert metrics.publish() is False
    assert aws.client("cloudwatch").list_metrics(Namespace=NAMESPACE)["Metrics"] == []


def test_a_failed_publish_is_tried_again_on_the_next_tick(
    _moto: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [0.0]
    metrics = HostMetrics(GROUP, lambda: 2, interval=60, clock=lambda: clock[0])
    # CloudWatch unreachable (a refused connection), then back.
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDWATCH", "http://127.0.0.1:9")
    aws.reset()
    assert metrics.publish() is False
    monkeypatch.delenv("AWS_ENDPOINT_URL_CLOUDWATCH")
    aws.reset()
    clock[0] += 1
    assert metrics.publish() is True
    assert _published() == [2.0]
