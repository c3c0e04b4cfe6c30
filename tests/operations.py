"""Waiting for the Celery worker to finish an operation, as integration tests of the action paths do."""

from __future__ import annotations

from groups.models import Operation
from tests import kafkatools as kt


def wait_final(operation: Operation, timeout: float = 60) -> Operation:
    """`operation` reloaded once the worker has finished it (succeeded, failed or refused)."""

    def final() -> bool:
        operation.refresh_from_db()
        return operation.is_final

    kt.wait_for(final, timeout=timeout, what=f"operation #{operation.pk} to finish")
    return operation
