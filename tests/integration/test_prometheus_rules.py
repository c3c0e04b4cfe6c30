"""The alerting rules the console ships (docs/prometheus-rules.yml), run by Prometheus' own promtool over a
real scrape of /metrics: an offset rewound outside the console alerts, the same rewind made by the console's
own reset does not."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from groups.models import Operation
from groups.snapshot import dating
from groups.snapshot.collector import COLLECTED, collect
from localkafka.promtool import ensure_promtool
from tests import kafkatools as kt

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db,
    pytest.mark.engine_neutral("what is checked is the scrape's series against Prometheus' rule engine"),
]

RULES = django_settings.BASE_DIR / "docs" / "prometheus-rules.yml"
TOKEN = "integration-scrape-token-0123456789"
HOUR_MS = 3_600_000


def _promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(ensure_promtool()), *args], capture_output=True, text=True, timeout=120, check=False)


def test_the_shipped_rules_are_valid_prometheus_rules():
    checked = _promtool("check", "rules", str(RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 4 rules found" in checked.stdout


def _collected(cluster) -> None:
    report = collect(cluster)
    assert report.outcome == COLLECTED, report.reason
    assert not dating.date_records(cluster).error  # the records' own ages, as the worker's dating task finds them


def _series(text: str, groups: set[str]) -> list[tuple[str, dict[str, str], float]]:
    """The scrape's samples of `groups`, and those of no group (the cluster's, the operations')."""
    return [
        (sample.name, sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.labels.get("group", next(iter(groups))) in groups
    ]


def _selector(name: str, labels: dict[str, str]) -> str:
    return name + "{" + ",".join(f"{k}={json.dumps(v)}" for k, v in sorted(labels.items())) + "}"


def test_the_alerts_fire_for_an_offset_rewound_outside_the_console_and_not_for_the_consoles_own_reset(
    client, settings, cluster, kafka_bootstrap, unique, use_test_redis, tmp_path
):
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_IPS = TOKEN, []
    settings.COLLECT_WINDOW_ROUNDS = 3  # the trend rules (REWIND among them) judge full windows only
    topic, rewound, reset = unique("rules"), unique("rules-rewound"), unique("rules-reset")
    kt.create_topic(kafka_bootstrap, topic, 1)
    kt.produce(kafka_bootstrap, topic, {0: 10}, timestamp_ms=int(time.time() * 1000) - 2 * HOUR_MS)
    kt.produce(kafka_bootstrap, topic, {0: 5})
    for group in (rewound, reset):
        kt.commit(kafka_bootstrap, group, {(topic, 0): 8})
    _collected(cluster)
    # Both move back to offset 3, two hours behind; only one by an operation of the console.
    Operation.objects.create(
        kind=Operation.Kind.RESET,
        cluster=cluster,
        group_id=reset,
        reason="replay the last two hours",
        status=Operation.Status.SUCCEEDED,
        finished=timezone.now(),
        plan=[{"topic": topic, "partition": 0, "current": 8, "target": 3}],
    )
    for group in (rewound, reset):
        kt.commit(kafka_bootstrap, group, {(topic, 0): 3})
    _collected(cluster)
    _collected(cluster)

    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    series = _series(b"".join(response.streaming_content).decode(), {rewound, reset})
    status = {labels["group"]: labels["status"] for name, labels, _ in series if name == "kafka_console_group_status"}
    assert status == {rewound: "ERR", reset: "RESET"}
    lag_s = {
        labels["group"]: (labels, value)
        for name, labels, value in series
        if name == "kafka_consumergroup_group_max_lag_seconds"
    }
    assert all(value > 3600 for _, value in lag_s.values()), lag_s  # both are two hours behind

    # Every series holds its scraped value for half an hour; the rules are judged after 20 minutes.
    cases = {
        "KafkaConsumerGroupErr": [
            (
                {"cluster_name": "local", "group": rewound, "status": "ERR"},
                f"Consumer group {rewound} on local is ERR",
            )
        ],
        "KafkaConsumerGroupLagsAnHour": [
            (lag_s[rewound][0], f"Consumer group {rewound} on local has records unread for over an hour")
        ],
        "KafkaConsoleSnapshotStale": [],
        "KafkaConsoleOperationFailed": [],
    }
    unit_test = {
        "rule_files": [str(RULES)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": _selector(name, labels), "values": f"{value!r}x30"} for name, labels, value in series
                ],
                "alert_rule_test": [
                    {
                        "eval_time": "20m",
                        "alertname": alert,
                        "exp_alerts": [
                            {"exp_labels": {**labels, "severity": "warning"}, "exp_annotations": {"summary": summary}}
                            for labels, summary in expected
                        ],
                    }
                    for alert, expected in cases.items()
                ],
            }
        ],
    }
    path = tmp_path / "rules_test.yml"
    path.write_text(json.dumps(unit_test))  # JSON is YAML too
    tested = _promtool("test", "rules", str(path))
    assert tested.returncode == 0, tested.stdout + tested.stderr
