import os
import uuid

import pytest


def pytest_addoption(parser):
    parser.addoption(
        "--database",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help="run on SQLite (DATABASE_URL's, default), or on a throwaway PostgreSQL started for the run",
    )
    parser.addoption(
        "--balance-passes",
        action="store_true",
        help="the PostgreSQL pass runs the engine-neutral modules of BALANCED_TO_POSTGRES instead of the SQLite pass "
        "(tests/all_passes.py gives it to both)",
    )


# Modules that cannot depend on the engine (no database, or `engine_neutral`) which, under --balance-passes,
# the PostgreSQL pass runs instead of the SQLite one. The SQLite pass has every module the PostgreSQL
# pass has and these besides; moving about 150 s of them (measured on a clean clone) evens the two out.
BALANCED_TO_POSTGRES = frozenset({"test_localkafka", "test_demo_workload", "test_streams_groups"})


def pytest_configure(config):
    """The tools' JVMs share one class-data archive: localkafka.broker.share_tool_classes."""
    from localkafka.broker import share_tool_classes

    share_tool_classes()


def pytest_collection_modifyitems(config, items):
    """On PostgreSQL, run only the tests whose outcome may depend on the engine: those that use the
    database, less the modules marked `engine_neutral` (there the database holds only fixtures and
    what is checked is Kafka's). The SQLite run has them all; under --balance-passes the
    PostgreSQL pass takes the modules of BALANCED_TO_POSTGRES from it."""
    balanced = config.getoption("balance_passes")
    postgres = config.getoption("database") == "postgres"
    if not postgres and not balanced:
        return
    database_fixtures = {"db", "transactional_db", "django_db_setup"}
    keep, drop = [], []
    for item in items:
        moved = balanced and item.module.__name__.rsplit(".", 1)[-1] in BALANCED_TO_POSTGRES
        if not postgres:
            (drop if moved else keep).append(item)
            continue
        uses_database = item.get_closest_marker("django_db") or database_fixtures & set(item.fixturenames)
        neutral = item.get_closest_marker("engine_neutral")
        (keep if moved or (uses_database and not neutral) else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session")
def postgres_url():
    """A PostgreSQL of this run's own (Debian's, through localkafka), stopped and removed at the end.

    Its state dir is under /tmp, not pytest's tmp_path: run as root, the server runs as the `postgres`
    user, which cannot enter pytest's root-only temporary directories.
    """
    import shutil
    import tempfile

    from localkafka.postgres import LocalPostgres

    server = LocalPostgres(tempfile.mkdtemp(prefix="console-test-postgres-"))
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(server.state_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(request, tmp_path_factory):
    """The database the run asked for (--database), with a test database of this run's own: worker
    processes open it too, and parallel runs on one machine must not share it."""
    from django.conf import settings

    from tests.databases import use_database

    if request.config.getoption("database") == "postgres":
        use_database(request.getfixturevalue("postgres_url"))
    db = settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3":
        db["TEST"]["NAME"] = str(tmp_path_factory.mktemp("db") / "test.sqlite3")


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory):
    """The run's own LocalKafka, or None when KAFKA_BOOTSTRAP names an existing cluster.

    It has a SASL_SSL listener beside PLAINTEXT for the secured tests. Measured: that adds about
    0.6 s of the JVM's CPU (5.0 s instead of 4.4 s to ready) and 0.2 s of openssl to its start,
    where a second, secured broker would cost a whole start (4-5 s CPU, 10-15 s here) and another
    JVM's memory.
    """
    if os.environ.get("KAFKA_BOOTSTRAP"):
        yield None
        return
    from localkafka.broker import LocalKafka

    broker = LocalKafka(tmp_path_factory.mktemp("kafka"))
    broker.start(secured=True)
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker):
    """One real broker for the whole test run, or the cluster named by KAFKA_BOOTSTRAP.

    A fresh broker answers before its group coordinator has loaded; tests that expect a group
    answer (not "coordinator loading, retry") start only once it has.
    """
    from tests.kafkatools import wait_for_group_coordinator

    bootstrap = kafka_broker.bootstrap if kafka_broker else os.environ["KAFKA_BOOTSTRAP"]
    wait_for_group_coordinator(bootstrap)
    return bootstrap


@pytest.fixture(scope="session")
def secured_kafka(kafka_broker, kafka_bootstrap):
    """The run's broker's SASL_SSL listener (SCRAM-SHA-512 user, throwaway CA): a `SecuredListener`."""
    if kafka_broker is None:
        pytest.skip("KAFKA_BOOTSTRAP names an outside cluster; the secured tests need the run's own broker")
    return kafka_broker.secured


@pytest.fixture
def unique():
    """Names no other test uses on the shared broker: unique('orders') -> 'orders-1a2b3c4d'."""
    return lambda base: f"{base}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def cluster(db, kafka_bootstrap):
    from groups.models import Cluster

    return Cluster.objects.create(name="local", bootstrap_servers=kafka_bootstrap)


@pytest.fixture
def make_user(db, django_user_model):
    """make_user("alice", "Operator", cluster=None, pattern="*"): a user with that grant (no role: no grant)."""
    from groups.models import Grant

    def make(username: str, role: str | None = None, *, cluster=None, pattern: str = "*", password: str | None = None):
        user = django_user_model.objects.create_user(username, password=password)
        if role is not None:
            Grant.objects.create(user=user, role=role, cluster=cluster, group_pattern=pattern)
        return user

    return make


@pytest.fixture
def viewer_client(client, make_user):
    """The test client signed in as a Viewer of every cluster."""
    client.force_login(make_user("viewer", "Viewer"))
    return client


@pytest.fixture
def operator_client(client, make_user):
    """The test client signed in as an Operator of every cluster (view, reset, replay)."""
    client.force_login(make_user("operator", "Operator"))
    return client


@pytest.fixture
def admin_client(client, make_user):
    """The test client signed in as a user with the Admin role on every cluster (not a superuser, so the
    grant is what lets it in). Replaces pytest-django's superuser `admin_client`."""
    client.force_login(make_user("admin", "Admin"))
    return client


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

    def __init__(self, redis_url: str, log_path, mail_port: int, extra_env: dict[str, str] | None = None):
        from tests.databases import shared_database_url

        self.log_path = log_path
        self.log = None
        self.env = {
            **os.environ,
            "REDIS_URL": redis_url,
            "DATABASE_URL": shared_database_url(),
            "KAFKA_REQUEST_TIMEOUT_MS": "10000",
            # Alert emails go to the run's mail server; failed notifications retry within seconds.
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(mail_port),
            "ALERT_RETRY_BASE_SECONDS": "1",
            **(extra_env or {}),
        }
        self.start()

    def start(self) -> None:
        import contextlib
        import signal
        import subprocess
        import sys

        from tests.kafkatools import wait_for

        if self.log is not None:
            self.log.close()  # the handle of the run before a kill()
        self.log = open(self.log_path, "a")
        start_at = self.log.tell()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "console",
                "worker",
                "--pool",
                "prefork",
                "--concurrency",
                "2",
                "-l",
                "info",
                "--without-mingle",
                "--without-gossip",
                "-n",
                f"test-{uuid.uuid4().hex[:6]}@%h",
                # Both pools' queues in one worker: operations, the lag collector's and the alert notifications'.
                "-Q",
                "operations,collection,notifications",
            ],
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

        def ready():
            with open(self.log_path) as f:
                f.seek(start_at)
                return "ready." in f.read() or self.proc.poll() is not None

        try:
            wait_for(ready, timeout=60, what="the Celery worker to start")
            assert self.proc.poll() is None, open(self.log_path).read()
        except BaseException:
            # A worker that never got ready must not live on (and take tasks) after the failure: kill its
            # whole process group, pool processes included, even when the main process has exited already.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
            self.log.close()
            raise

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes, as a crashed machine would."""
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


class MailServer:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps every message it is given."""

    def __init__(self):
        import socket

        from aiosmtpd.controller import Controller

        self.messages: list = []
        with socket.socket() as probe:  # aiosmtpd needs a port number up front
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.controller = Controller(self, hostname="127.0.0.1", port=port)
        self.controller.start()
        self.port = port

    async def handle_DATA(self, server, session, envelope):
        import email

        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"

    def stop(self) -> None:
        self.controller.stop()


@pytest.fixture(scope="session")
def static_root(tmp_path_factory):
    """The static files the run's gunicorn servers serve, collected once (tests/web_server.py)."""
    from tests.web_server import collect_static

    root = tmp_path_factory.mktemp("static")
    collect_static(root)
    return root


@pytest.fixture(scope="session")
def mail_server():
    """The run's SMTP server: the worker's email settings point at it."""
    server = MailServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def worker_process(django_db_setup, redis_url, mail_server, tmp_path_factory):
    worker = Worker(redis_url, tmp_path_factory.mktemp("worker") / "worker.log", mail_server.port)
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
