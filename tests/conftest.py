import os
import uuid

import pytest


@pytest.fixture(scope="session")
def django_db_modify_db_settings(tmp_path_factory):
    """A test database file of this run's own: worker processes open it by path, and parallel
    runs on one machine must not share it."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3":
        db["TEST"]["NAME"] = str(tmp_path_factory.mktemp("db") / "test.sqlite3")


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory):
    """One real broker for the whole test run, or the cluster named by KAFKA_BOOTSTRAP."""
    if os.environ.get("KAFKA_BOOTSTRAP"):
        yield os.environ["KAFKA_BOOTSTRAP"]
        return
    from localkafka.broker import LocalKafka

    broker = LocalKafka(tmp_path_factory.mktemp("kafka"))
    bootstrap = broker.start()
    try:
        yield bootstrap
    finally:
        broker.stop()


@pytest.fixture
def unique():
    """Names no other test uses on the shared broker: unique('orders') -> 'orders-1a2b3c4d'."""
    return lambda base: f"{base}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def cluster(db, kafka_bootstrap):
    from groups.models import Cluster

    return Cluster.objects.create(name="local", bootstrap_servers=kafka_bootstrap)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A Redis of this test run's own (Debian's redis-server), so no demo or other run shares queues."""
    from localkafka.redis_server import ensure_redis, stop_redis

    state = tmp_path_factory.mktemp("redis")
    url = ensure_redis("redis://127.0.0.1:1/0", state_dir=state)
    try:
        yield url
    finally:
        stop_redis(state_dir=state)


class Worker:
    """A real `celery worker` process sharing the test database and Redis."""

    def __init__(self, redis_url: str, log_path):
        import subprocess
        import sys

        from django.conf import settings

        self.log_path = log_path
        env = {
            **os.environ,
            "REDIS_URL": redis_url,
            "DATABASE_URL": f"sqlite:///{settings.DATABASES['default']['NAME']}",
            "KAFKA_REQUEST_TIMEOUT_MS": "10000",
        }
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "console", "worker", "--pool", "prefork", "--concurrency", "2",
             "-l", "info", "--without-mingle", "--without-gossip", "-n", f"test-{uuid.uuid4().hex[:6]}@%h"],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        from tests.kafkatools import wait_for

        wait_for(lambda: "ready." in open(log_path).read() or self.proc.poll() is not None, timeout=60,
                 what="the Celery worker to start")
        assert self.proc.poll() is None, open(log_path).read()

    def kill(self) -> None:
        """SIGKILL the whole process group, as a crashed machine would."""
        import signal

        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        import signal

        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except Exception:
                self.kill()
        self.log.close()


@pytest.fixture(scope="session")
def worker_process(django_db_setup, redis_url, tmp_path_factory):
    worker = Worker(redis_url, tmp_path_factory.mktemp("worker") / "worker.log")
    try:
        yield worker
    finally:
        worker.stop()


@pytest.fixture
def use_test_redis(redis_url, settings):
    """Point this process's locks and task dispatch at the test run's Redis."""
    from console.celery import app

    settings.REDIS_URL = redis_url
    app.conf.broker_url = redis_url
    return redis_url


@pytest.fixture
def celery_worker(transactional_db, use_test_redis, worker_process):
    """A live worker (shared by the run) that sees this test's committed rows."""
    assert worker_process.proc.poll() is None, open(worker_process.log_path).read()
    return worker_process
