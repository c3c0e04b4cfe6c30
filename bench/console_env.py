"""What the benchmarks stand on: a local broker (or KAFKA_BOOTSTRAP), optionally Redis, and the
console's Django set up on a throw-away SQLite database, all removed afterwards."""

import contextlib
import os
import secrets
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


@contextlib.contextmanager
def console_on_local_kafka(prefix: str, *, redis: bool = False):
    """Yield the bootstrap servers with Django ready; stop what it started even when a step fails."""
    from localkafka.broker import LocalKafka
    from localkafka.redis_server import ensure_redis, stop_redis

    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    with contextlib.ExitStack() as cleanup:
        # Registered first, so it runs last: the broker's and Redis's files are in it.
        cleanup.callback(shutil.rmtree, workdir, ignore_errors=True)
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP")
        if not bootstrap:
            broker = LocalKafka(workdir / "kafka")
            # Registered before start(), so a broker whose start failed half-way is stopped too.
            cleanup.callback(broker.stop)
            bootstrap = broker.start()
        settings = {"KAFKA_REQUEST_TIMEOUT_MS": "60000"}
        if redis:
            cleanup.callback(stop_redis, state_dir=workdir / "redis")
            settings["REDIS_URL"] = ensure_redis("redis://127.0.0.1:1/0", state_dir=workdir / "redis")
        _setup_django(f"sqlite:///{workdir / 'bench.sqlite3'}", settings)
        yield bootstrap


@contextlib.contextmanager
def console_on_scratch_database(prefix: str, database_url: str | None = None):
    """Yield with Django ready on a throw-away SQLite database (or on `database_url`, an empty database
    the caller provides), for benchmarks that need no broker; the SQLite file is removed afterwards."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        # As in production: with DEBUG on, Django keeps and formats every query, which costs as much as some.
        _setup_django(
            database_url or f"sqlite:///{workdir / 'bench.sqlite3'}",
            {
                "DEBUG": "0",
                "SECRET_KEY": secrets.token_urlsafe(32),
                "AUDIT_HMAC_KEY": f"bench:{secrets.token_urlsafe(32)}",
            },
        )
        yield
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _setup_django(database_url: str, settings: dict[str, str]) -> None:
    os.environ.update({"DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "console.settings", **settings})
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
