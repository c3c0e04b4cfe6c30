"""The console against a secured Kafka: the run's broker's SASL_SSL listener (SCRAM-SHA-512 over TLS,
certificate from a throwaway CA), configured the way an operator would (the password in a file, a CA
path). The test's own clients play the applications through the PLAINTEXT listener of the same broker;
everything the console does goes through SASL_SSL. The password must show up nowhere."""

from __future__ import annotations

import json
import logging
import pathlib
import re

import pytest
from confluent_kafka import Consumer, TopicPartition
from django.urls import reverse

from groups.models import AuditEvent, Cluster, Operation
from groups.snapshot.collector import COLLECTED, FAILED, collect
from localkafka.tls import make_ca
from tests import kafkatools as kt

pytestmark = [
    pytest.mark.integration,
    pytest.mark.engine_neutral("SASL and TLS towards the broker"),
]


@pytest.fixture(autouse=True)
def signed_in(client, make_user, caplog):
    """An Admin: the one role that reads groups, resets, replays and reviews the audit log. Every log
    record of the test is captured, whatever its level, to be searched for the password."""
    caplog.set_level(logging.DEBUG)
    client.force_login(make_user("admin", "Admin"))


def _secured_cluster(name: str, secured_kafka, **changes) -> Cluster:
    fields = {
        "bootstrap_servers": secured_kafka.bootstrap,
        "security_protocol": Cluster.Security.SASL_SSL,
        "sasl_mechanism": Cluster.Mechanism.SCRAM_SHA_512,
        "sasl_username": secured_kafka.username,
        "secret_ref": f"file:{secured_kafka.password_file}",
        "ssl_ca_location": str(secured_kafka.ca_file),
        **changes,
    }
    cluster = Cluster(name=name, **fields)
    cluster.full_clean()
    cluster.save()
    return cluster


@pytest.fixture
def secured(db, secured_kafka) -> Cluster:
    return _secured_cluster("secured", secured_kafka)


@pytest.fixture
def password(secured_kafka) -> str:
    value = secured_kafka.password_file.read_text().strip()
    assert len(value) >= 24
    return value


@pytest.fixture
def lagging_group(kafka_bootstrap, unique):
    topic, group = unique("secured"), unique("secured-group")
    kt.create_topic(kafka_bootstrap, topic, 2)
    kt.produce(kafka_bootstrap, topic, {0: 50, 1: 40})
    kt.commit(kafka_bootstrap, group, {(topic, 0): 30, (topic, 1): 40})
    return topic, group


def _page(client, url: str, status: int = 200, **headers) -> str:
    response = client.get(url, **headers)
    assert response.status_code == status, response.content.decode()[:2000]
    return response.content.decode()


def _keys(bootstrap: str, topic: str, counts: dict[int, int]) -> dict[int, list[str]]:
    """The keys of the first counts[p] committed records of each partition, read as an application would."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "secured-test-reader",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    found: dict[int, list[str]] = {p: [] for p in counts}
    try:
        consumer.assign([TopicPartition(topic, p, 0) for p in counts])

        def complete() -> bool:
            for message in consumer.consume(num_messages=100, timeout=0.5):
                if message.error() is None:
                    found[message.partition()].append(message.key().decode())
            return all(len(found[p]) >= count for p, count in counts.items())

        kt.wait_for(complete, timeout=30, interval=0, what=f"the records of {topic}")
    finally:
        consumer.close()
    return found


def _final_status_area(client, operation: Operation) -> str:
    """Poll the operation's status area as htmx does until it stops asking to be polled."""
    url = reverse("operation_page", args=[operation.pk])

    def final():
        body = _page(client, url, HTTP_HX_REQUEST="true")
        return None if "hx-trigger=" in body else body

    return kt.wait_for(final, timeout=60, interval=0.5, what=f"operation #{operation.pk} to finish")


def _audit_everywhere(client) -> list[str]:
    """The audit log as rows, as its pages and as both exports."""
    rows = [repr(list(AuditEvent.objects.values())), repr(list(Operation.objects.values()))]
    pages = [_page(client, reverse("audit_list"))]
    pages += [
        _page(client, reverse("audit_event", args=[pk])) for pk in AuditEvent.objects.values_list("pk", flat=True)
    ]
    exports = [
        b"".join(client.get(reverse(name)).streaming_content).decode()
        for name in ("audit_export_csv", "audit_export_json")
    ]
    return rows + pages + exports


def _assert_nowhere(secret: str, texts: list[str], caplog, capfd, worker=None) -> None:
    """secret is in none of texts, the test's log records, what its process wrote to stdout and stderr
    (librdkafka logs there), nor the worker's log file."""
    out, err = capfd.readouterr()
    logs = [caplog.text, out, err, *(record.getMessage() for record in caplog.records)]
    if worker is not None:
        logs.append(pathlib.Path(worker.log_path).read_text())
    assert all(text for text in texts), "an empty answer proves nothing"
    for text in texts + logs:
        assert secret not in text


def test_the_group_list_group_page_and_api_read_groups_through_sasl_ssl(
    client, secured, password, lagging_group, use_test_redis, caplog, capfd
):
    topic, group = lagging_group
    # The list and the API's list read the collector's snapshot: its round reads through SASL_SSL too.
    report = collect(secured)
    assert report.outcome == COLLECTED, report.reason
    response = client.get(f"/clusters/secured/groups/?q={group}")
    assert response.status_code == 200, response.content.decode()[:2000]
    listing = response.content.decode()
    assert [(g.group_id, g.partitions, g.lag) for g in response.context["page"].object_list] == [(group, 2, 20)]

    page = _page(client, reverse("group_page", args=["secured", group]))
    assert f'<tr data-tp="{topic}-0">' in page and f'<tr data-tp="{topic}-1">' in page

    # Searched: other tests leave many groups on the shared broker, past the first page.
    api_list = client.get("/api/clusters/secured/groups/", {"q": group})
    assert api_list.status_code == 200
    assert {"group": group, "lag": 20} in [{k: g[k] for k in ("group", "lag")} for g in api_list.json()["groups"]]
    api_group = client.get(f"/api/clusters/secured/groups/{group}/")
    assert api_group.status_code == 200
    assert [(p["partition"], p["committed"], p["lag"]) for p in api_group.json()["partitions"]] == [
        (0, 30, 20),
        (1, 40, 0),
    ]
    clusters = client.get("/api/clusters/").content.decode()
    assert secured.bootstrap_servers in clusters

    _assert_nowhere(
        password, [listing, page, api_list.content.decode(), api_group.content.decode(), clusters], caplog, capfd
    )


def test_a_reset_is_previewed_and_run_by_the_worker_through_sasl_ssl(
    client, secured, password, lagging_group, celery_worker, kafka_bootstrap, caplog, capfd
):
    topic, group = lagging_group
    preview = client.post(
        reverse("reset_preview", args=["secured", group]),
        {"strategy": "shift-by", "value": "-25", "scope_mode": "all", "scope": ""},
    )
    assert preview.status_code == 200, preview.content.decode()[:2000]
    body = preview.content.decode()
    assert re.search(rf'<tr data-tp="{re.escape(topic)}-0">.*?<td class="num after">5</td>', body, re.DOTALL)
    token = re.search(r'name="token" value="([^"]+)"', body)[1]

    confirmed = client.post(
        reverse("reset_confirm", args=["secured", group]), {"token": token, "reason": "reprocess after the fix"}
    )
    assert confirmed.status_code == 302
    operation = Operation.objects.get(cluster=secured)
    status = _final_status_area(client, operation)
    operation.refresh_from_db()
    assert operation.status == "succeeded", operation.error
    assert 'id="operation-status">Succeeded<' in status
    # Read back by the test's own client on the PLAINTEXT listener: the worker's SASL_SSL commit landed.
    assert kt.committed(kafka_bootstrap, group, topic) == {0: 5, 1: 15}
    actions = list(AuditEvent.objects.filter(operation=operation).order_by("id").values_list("action", flat=True))
    assert actions == ["requested", "started", "succeeded"]

    operation_page = _page(client, reverse("operation_page", args=[operation.pk]))
    _assert_nowhere(password, [body, status, operation_page, *_audit_everywhere(client)], caplog, capfd, celery_worker)


def test_a_replay_is_previewed_and_run_by_the_worker_through_sasl_ssl(
    client, secured, password, celery_worker, kafka_bootstrap, unique, caplog, capfd
):
    source, target = unique("secured-src"), unique("secured-dst")
    kt.create_topic(kafka_bootstrap, source, 2)
    kt.create_topic(kafka_bootstrap, target, 2)
    kt.produce(kafka_bootstrap, source, {0: 8, 1: 5})
    form = {
        "partitions_mode": "all",
        "partitions": "",
        "range_mode": "offsets",
        "offsets": "0:2-7, 1:0-3",
        "time_from": "",
        "time_to": "",
        "key_filter": "none",
        "key": "",
        "header_filter": "none",
        "header_name": "",
        "header_value": "",
        "target_topic": target,
        "partitioning": "same",
        "timestamps": "keep",
        "throttle": "",
    }
    preview = client.post(reverse("replay_preview", args=["secured", source]), form)
    assert preview.status_code == 200, preview.content.decode()[:2000]
    body = preview.content.decode()
    token = re.search(r'name="token" value="([^"]+)"', body)[1]

    confirmed = client.post(
        reverse("replay_confirm", args=["secured", source]), {"token": token, "reason": "rebuild the index"}
    )
    assert confirmed.status_code == 302
    operation = Operation.objects.get(cluster=secured, kind=Operation.Kind.REPLAY)
    status = _final_status_area(client, operation)
    operation.refresh_from_db()
    assert operation.status == "succeeded", operation.error
    assert operation.progress_copied == 8  # ranges are half-open: offsets 2-6 of partition 0, 0-2 of partition 1
    copied = _keys(kafka_bootstrap, target, {0: 5, 1: 3})
    assert copied == {0: [f"k{i}" for i in range(2, 7)], 1: [f"k{i}" for i in range(3)]}

    _assert_nowhere(password, [body, status, *_audit_everywhere(client)], caplog, capfd, celery_worker)


def test_a_wrong_password_is_named_in_one_line_in_the_page_and_the_api(
    client, db, secured_kafka, password, lagging_group, use_test_redis, settings, tmp_path, caplog, capfd
):
    settings.KAFKA_REQUEST_TIMEOUT = 2  # librdkafka meets the refusal within half a second
    _topic, group = lagging_group
    wrong = tmp_path / "wrong-password"
    wrong.write_text("not-the-password-but-still-a-secret\n")
    wrong.chmod(0o600)
    cluster = _secured_cluster("wrong-password", secured_kafka, secret_ref=f"file:{wrong}")

    # The group page and the API's group read Kafka live; the list reads the snapshot, whose round fails.
    response = client.get(reverse("group_page", args=["wrong-password", group]))
    assert response.status_code == 503
    message = response.context["error"].message
    assert "\n" not in message
    assert message.startswith(f"Kafka at {secured_kafka.bootstrap} rejected the console's credentials")
    assert "SCRAM-SHA-512" in message and "did not answer" not in message
    api = client.get(f"/api/clusters/wrong-password/groups/{group}/")
    assert api.status_code == 503 and api.json() == {"error": message, "code": "_AUTHENTICATION"}

    report = collect(cluster)
    assert report.outcome == FAILED
    assert "\n" not in report.reason
    assert report.reason.startswith(f"Kafka at {secured_kafka.bootstrap} rejected the console's credentials")
    listing = _page(client, "/clusters/wrong-password/groups/")
    assert report.reason in listing.replace("&#x27;", "'")
    api_list = client.get("/api/clusters/wrong-password/groups/")
    assert api_list.status_code == 503 and api_list.json()["last_failure"] == report.reason

    texts = [response.content.decode(), api.content.decode(), listing, api_list.content.decode()]
    for secret in (password, "not-the-password-but-still-a-secret"):
        _assert_nowhere(secret, texts, caplog, capfd)

    wrong.write_text(password + "\n")  # the operator corrects the file: the next page load reads it
    assert client.get(reverse("group_page", args=["wrong-password", group])).status_code == 200
    assert collect(cluster).outcome == COLLECTED


def test_an_untrusted_certificate_is_named_in_one_line_with_the_ca_file_used(
    client, db, secured_kafka, password, settings, tmp_path, caplog, capfd
):
    settings.KAFKA_REQUEST_TIMEOUT = 2
    stranger = make_ca(tmp_path / "other-ca", "a CA that never signed the broker")
    _secured_cluster("untrusted", secured_kafka, ssl_ca_location=str(stranger))

    response = client.get(reverse("group_page", args=["untrusted", "any-group"]))
    assert response.status_code == 503
    message = response.context["error"].message
    assert "\n" not in message
    assert message == (
        f"Kafka at {secured_kafka.bootstrap} presented a TLS certificate that was not trusted (certificate verify "
        f"failed) by the CA file {stranger}. Set the cluster's CA file to the CA that signed the brokers' certificates."
    )
    api = client.get("/api/clusters/untrusted/groups/any-group/")
    assert api.status_code == 503 and json.loads(api.content) == {"error": message, "code": "_SSL"}

    _assert_nowhere(password, [response.content.decode(), api.content.decode()], caplog, capfd)
