"""localkafka against the real thing: a KRaft broker from the Maven Central jars, Kafka's own CLI
tools, and Debian's redis-server. Each test owns a tmp state dir, so none of this touches the
session broker of the `kafka_bootstrap` fixture."""

from __future__ import annotations

import pathlib
import subprocess
import sys
import uuid

import pytest
import redis
from confluent_kafka.admin import AdminClient, NewTopic

from localkafka import port_answers, read_pid
from localkafka.broker import KAFKA_VERSION, LocalKafka, ensure_jars, run_tool
from localkafka.redis_server import ensure_redis, stop_redis

pytestmark = pytest.mark.integration

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

        # `stop` clears a state dir of everything localkafka started there, redis included.
        stopped = _cli("-m", "localkafka", "stop", "--dir", str(state))
        assert stopped.returncode == 0, stopped.stderr
        with pytest.raises(redis.ConnectionError):
            redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    finally:
        stop_redis(state)
