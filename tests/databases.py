"""The database a test run uses: SQLite by default, or (`pytest --database=postgres`) a throwaway
PostgreSQL that localkafka starts for the run."""

from __future__ import annotations

import contextlib
from urllib.parse import quote


def use_database(url: str) -> None:
    """Point Django's default database at url before the test database is created from it.

    The settings dict is changed in place because Django's connection handler holds that very dict;
    a connection opened for the old engine while tests were collected is dropped so the next use opens
    one of the new engine.
    """
    import dj_database_url
    from django.conf import settings
    from django.db import connections

    db = settings.DATABASES["default"]
    db.update(dj_database_url.parse(url, conn_max_age=60))
    db["OPTIONS"] = {}  # SQLite's options (timeout, transaction_mode) mean nothing to PostgreSQL
    db.setdefault("TEST", {})["NAME"] = None  # Django's default: "test_" + NAME
    connections.close_all()
    with contextlib.suppress(AttributeError):
        del connections["default"]


def shared_database_url() -> str:
    """A DATABASE_URL naming the test database, for the processes tests start (Celery workers, manage.py)."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    credentials = f"{quote(db['USER'], safe='')}:{quote(db['PASSWORD'], safe='')}@" if db["USER"] else ""
    return f"postgres://{credentials}{db['HOST']}:{db['PORT']}/{quote(db['NAME'], safe='')}"
