"""Which operation a log line belongs to: set while a worker runs one, stamped on every line it writes.

A log shipper can then gather everything a reset did (the lifecycle's lines, the Kafka adapter's, the
errors) by one field, across worker processes and machines.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from contextvars import ContextVar, Token

_operation_id: ContextVar[int | None] = ContextVar("operation_id", default=None)


def enter_operation(operation_id: int) -> Token[int | None]:
    """From now on, every line logged in this context carries `operation_id`, until `leave_operation(token)`."""
    return _operation_id.set(operation_id)


def leave_operation(token: Token[int | None]) -> None:
    _operation_id.reset(token)


@contextlib.contextmanager
def operation_context(operation_id: int) -> Iterator[None]:
    """Every line logged inside the block, by any logger, carries `operation_id`."""
    token = enter_operation(operation_id)
    try:
        yield
    finally:
        leave_operation(token)


class OperationFilter(logging.Filter):
    """Adds `operation_id` (None outside an operation) and `operation_label` (" [operation 12]" or "") to
    each record, for the JSON and the text formats; it never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        operation_id = _operation_id.get()
        record.operation_id = operation_id
        record.operation_label = f" [operation {operation_id}]" if operation_id is not None else ""
        return True


def json_formatter() -> logging.Formatter:
    """One JSON object a line: time, level, logger, pid, operation_id, message (and exc_info when there is one)."""
    from pythonjsonlogger.core import RESERVED_ATTRS
    from pythonjsonlogger.json import JsonFormatter

    return JsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(process)d %(operation_id)s %(message)s",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger", "process": "pid"},
        # The label is the text format's spelling of operation_id.
        reserved_attrs=[*RESERVED_ATTRS, "operation_label"],
    )
