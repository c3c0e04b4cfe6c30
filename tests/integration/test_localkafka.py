"""localkafka against the real thing: a KRaft broker from the Maven Central jars, Kafka's own CLI
tools, and Debian's redis-server. Each test owns a tmp state dir, so none of this touches the
session broker of the `kafka_bootstrap` fixture."""

from __future__ import annotations

import pathlib
import socket
import subprocess
import sys
import uuid

import pytest
import redis
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from localkafka import port_answers, read_pid
from localkafka.broker import KAFKA_VERSION, LocalKafka, ensure_jars, run_tool
from localkafka.redis_server import ensure_redis, redis_status, stop_redis
from tests import kafkatools as kt

pytestmark = [
    pytest.mark.integration,
    pytest.mark.engine_neutral("the broker tooling"),
]

REPO = pathlib.Path(__file__).resolve().parents[2]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    # A separate process, so the broker has to outlive the command that started it.
    return subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=180)


def test_start_prints_bootstrap_and_reuses_running_broker(tmp_path):
    state = tmp_path / "kafka"
    topic = f"localkafka-{uuid.uuid4().hex[:8]}"
    try:
        started = _cli("manage.py", "localkafka", "start", "--dir", str(state))
        assert started.returncode == 0, started.stderr
        assert len(started.stdout.splitlines()) == 1
        assert started.stdout.startswith("bootstrap=127.0.0.1:")
        bootstrap = started.stdout.strip().removeprefix("bootstrap=")
        assert LocalKafka(state).status() == bootstrap
        pid = read_pid(state / "broker.pid")

        again = _cli("-m", "localkafka", "start", "--dir", str(state))
        assert again.returncode == 0, again.stderr
        assert again.stdout == started.stdout
        assert read_pid(state / "broker.pid") == pid

        admin = AdminClient({"bootstrap.servers": bootstrap})
        admin.create_topics([NewTopic(topic, 3, 1)])[topic].result(30)
        listed = run_tool("topics", ["--list"], bootstrap)
        assert listed.returncode == 0, listed.stderr
        assert topic in listed.stdout.split()

        described = _cli(
            "manage.py", "localkafka", "tool", "--dir", str(state), "topics", "--describe", "--topic", topic
        )
        assert described.returncode == 0, described.stderr
        assert "PartitionCount: 3" in described.stdout

        stopped = _cli("manage.py", "localkafka", "stop", "--dir", str(state))
        assert stopped.returncode == 0, stopped.stderr
        assert not port_answers(int(bootstrap.rsplit(":", 1)[1]))
        assert not (state / "broker.pid").exists()
        status = _cli("manage.py", "localkafka", "status", "--dir", str(state))
        assert status.returncode == 1
        assert "not running" in status.stderr
    finally:
        LocalKafka(state).stop()


def test_ensure_jars_fetches_again_after_an_interrupted_download(tmp_path, monkeypatch):
    monkeypatch.setenv("LOCALKAFKA_CACHE", str(tmp_path))
    lib = tmp_path / KAFKA_VERSION / "lib"
    lib.mkdir(parents=True)
    (lib / "half-written.jar").write_bytes(b"")

    assert ensure_jars(quiet=True) == lib

    jars = {path.name for path in lib.glob("*.jar")}
    assert f"kafka_2.13-{KAFKA_VERSION}.jar" in jars
    assert f"kafka-tools-{KAFKA_VERSION}.jar" in jars
    assert "half-written.jar" not in jars


def test_ensure_redis_starts_a_server_that_answers_ping_and_reuses_it(tmp_path, monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    state = tmp_path / "redis"
    url = None
    try:
        url = ensure_redis(state_dir=state)
        client = redis.Redis.from_url(url)
        assert client.ping() is True
        client.set("localkafka", "yes")
        assert client.get("localkafka") == b"yes"
        client.close()

        # Nothing listens on port 1, so the server of this state dir is reused.
        assert ensure_redis(url="redis://127.0.0.1:1/0", state_dir=state) == url

        elsewhere = tmp_path / "unused"
        monkeypatch.setenv("REDIS_URL", url)
        assert ensure_redis(state_dir=elsewhere) == url
        assert not (elsewhere / "redis.pid").exists()

        # A worker may be using it: `stop` leaves Redis running and says so; `stop --all` stops it too.
        stopped = _cli("-m", "localkafka", "stop", "--dir", str(state))
        assert stopped.returncode == 0, stopped.stderr
        assert f"Redis keeps running at {url}" in stopped.stderr
        assert redis.Redis.from_url(url, socket_connect_timeout=1).ping() is True
        stopped = _cli("-m", "localkafka", "stop", "--all", "--dir", str(state))
        assert stopped.returncode == 0, stopped.stderr
        with pytest.raises(redis.ConnectionError):
            redis.Redis.from_url(url, socket_connect_timeout=1).ping()

        # Started again, it is where a worker that knew it looks.
        assert ensure_redis(url="redis://127.0.0.1:1/0", state_dir=state) == url
    finally:
        stop_redis(state)


@pytest.fixture(scope="module")
def used_state(tmp_path_factory):
    """A state dir whose broker holds a topic with records and a group's committed offsets, and
    whose Redis runs: what a developer has after a day with the console. Both are stopped at the end."""
    state = tmp_path_factory.mktemp("restart")
    topic, group = f"kept-{uuid.uuid4().hex[:8]}", f"kept-group-{uuid.uuid4().hex[:8]}"
    try:
        bootstrap = LocalKafka(state).start()
        ensure_redis(url="redis://127.0.0.1:1/0", state_dir=state)
        kt.create_topic(bootstrap, topic, 2)
        kt.produce(bootstrap, topic, {0: 5, 1: 3})
        kt.wait_for_group_coordinator(bootstrap)
        kt.commit(bootstrap, group, {(topic, 0): 4, (topic, 1): 1})
        yield state, topic, group
    finally:
        LocalKafka(state).stop()
        stop_redis(state)


def _what_the_broker_holds(bootstrap: str, topic: str, group: str) -> tuple[dict[int, int], dict[int, int]]:
    """(log end offset, committed offset) per partition, read after the group coordinator has loaded."""
    kt.wait_for_group_coordinator(bootstrap)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"probe-{uuid.uuid4().hex[:8]}"})
    try:
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1] for p in (0, 1)}
    finally:
        consumer.close()
    return ends, kt.committed(bootstrap, group, topic)


def test_stop_then_start_keeps_the_port_topics_and_committed_offsets_and_leaves_redis_running(used_state):
    state, topic, group = used_state
    bootstrap = LocalKafka(state).start()  # running, whatever the order of the tests
    redis_url = redis_status(state)
    assert redis_url is not None

    stopped = _cli("-m", "localkafka", "stop", "--dir", str(state))
    assert stopped.returncode == 0, stopped.stderr
    assert not port_answers(int(bootstrap.rsplit(":", 1)[1]))
    assert redis.Redis.from_url(redis_url, socket_connect_timeout=1).ping() is True

    started = _cli("manage.py", "localkafka", "start", "--dir", str(state))

    assert started.returncode == 0, started.stderr
    assert started.stdout == f"bootstrap={bootstrap}\n"
    assert _what_the_broker_holds(bootstrap, topic, group) == ({0: 5, 1: 3}, {0: 4, 1: 1})


def test_a_taken_port_is_named_in_one_line_and_new_ports_moves_the_broker_with_its_data(used_state):
    state, topic, group = used_state
    bootstrap = LocalKafka(state).start()  # running, whatever the order of the tests
    port = int(bootstrap.rsplit(":", 1)[1])
    assert _cli("-m", "localkafka", "stop", "--dir", str(state)).returncode == 0
    stranger = socket.socket()
    try:
        stranger.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        stranger.bind(("127.0.0.1", port))
        stranger.listen()

        refused = _cli("-m", "localkafka", "start", "--dir", str(state))

        assert refused.returncode == 1
        assert refused.stdout == ""
        assert len(refused.stderr.splitlines()) == 1, refused.stderr
        assert f"port {port}" in refused.stderr and "in use by another process" in refused.stderr
        assert "start --new-ports" in refused.stderr

        moved = _cli("-m", "localkafka", "start", "--new-ports", "--dir", str(state))

        assert moved.returncode == 0, moved.stderr
        new_bootstrap = moved.stdout.strip().removeprefix("bootstrap=")
        assert new_bootstrap != bootstrap
        assert _what_the_broker_holds(new_bootstrap, topic, group) == ({0: 5, 1: 3}, {0: 4, 1: 1})
    finally:
        stranger.close()


def test_start_secured_adds_a_sasl_ssl_listener_to_a_running_broker_and_keeps_its_data(tmp_path):
    state = tmp_path / "kafka"
    topic, group = f"secured-{uuid.uuid4().hex[:8]}", f"secured-group-{uuid.uuid4().hex[:8]}"
    try:
        bootstrap = LocalKafka(state).start()  # formatted without the SCRAM user, as a developer's old state dir
        kt.create_topic(bootstrap, topic, 2)
        kt.wait_for_group_coordinator(bootstrap)
        kt.commit(bootstrap, group, {(topic, 0): 4, (topic, 1): 1})

        started = _cli("-m", "localkafka", "start", "--secured", "--dir", str(state))

        assert started.returncode == 0, started.stderr
        printed = dict(line.split("=", 1) for line in started.stdout.splitlines())
        assert set(printed) == {
            "bootstrap",
            "secured_bootstrap",
            "security_protocol",
            "sasl_mechanism",
            "sasl_username",
            "sasl_password_file",
            "ssl_ca_location",
        }
        assert printed["bootstrap"] == bootstrap and printed["secured_bootstrap"] != bootstrap
        assert (printed["security_protocol"], printed["sasl_mechanism"]) == ("SASL_SSL", "SCRAM-SHA-512")
        password_file = pathlib.Path(printed["sasl_password_file"])
        assert password_file.stat().st_mode & 0o777 == 0o600
        password = password_file.read_text().strip()
        for text in (started.stdout, started.stderr, (state / "broker.log").read_text()):
            assert password not in text

        consumer = Consumer(
            {
                "bootstrap.servers": printed["secured_bootstrap"],
                "security.protocol": "SASL_SSL",
                "sasl.mechanism": printed["sasl_mechanism"],
                "sasl.username": printed["sasl_username"],
                "sasl.password": password,
                "ssl.ca.location": printed["ssl_ca_location"],
                "group.id": group,
            }
        )
        try:
            found = consumer.committed([TopicPartition(topic, 0), TopicPartition(topic, 1)], timeout=30)
        finally:
            consumer.close()
        assert [(tp.partition, tp.offset) for tp in found] == [(0, 4), (1, 1)]

        assert _cli("-m", "localkafka", "stop", "--dir", str(state)).returncode == 0
        again = _cli("-m", "localkafka", "start", "--dir", str(state))  # secured stays on, same ports and password
        assert again.returncode == 0, again.stderr
        assert again.stdout == started.stdout
        assert _cli("-m", "localkafka", "status", "--dir", str(state)).stdout == started.stdout
    finally:
        LocalKafka(state).stop()
