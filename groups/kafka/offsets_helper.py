"""Committed offsets read in a child process, so that a librdkafka crash cannot take the console down.

librdkafka (2.16, confluentinc/librdkafka#5040) segfaults an AdminClient's process when a
ListConsumerGroupOffsets (OffsetFetch) answer carries a coordinator error such as NOT_COORDINATOR:
it asks a consumer-group handle, which an AdminClient does not have, to look the coordinator up
again. Brokers give that answer whenever a group's coordinator moves (a broker restarts, a
__consumer_offsets leader changes) or is still loading, which is exactly when operators open the
console. The other admin calls guard against the missing handle; this one does not.

So this one call runs in a helper process that owns its own AdminClient. If the helper dies, the
console process lives: it starts a new helper, asks once more after a pause (the coordinator has
usually been found by then), and otherwise reports a retriable error.

This file is also the helper's program: run by path, it imports only the standard library and
confluent_kafka (not Django).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import struct
import subprocess
import sys
import threading
import time
from typing import IO, Any, cast

_HEADER = struct.Struct("!I")


def _write_frame(fd: int, payload) -> None:
    data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _read_exact(fd: int, size: int, deadline: float | None) -> bytes | None:
    """`size` bytes from `fd`; None at end of file; TimeoutError past `deadline`."""
    chunks, remaining = [], size
    while remaining:
        if deadline is not None:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                raise TimeoutError
        chunk = os.read(fd, remaining)
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _read_frame(fd: int, deadline: float | None = None):
    header = _read_exact(fd, _HEADER.size, deadline)
    if header is None:
        return None
    body = _read_exact(fd, _HEADER.unpack(header)[0], deadline)
    if body is None:
        return None
    return pickle.loads(body)


# --- the helper process -------------------------------------------------------------------------


def _error_tuple(error) -> tuple[int, str, bool]:
    return error.code(), error.str(), bool(error.retriable())


def _serve(read_fd: int, write_fd: int) -> None:
    from concurrent.futures import TimeoutError as FutureTimeout

    from confluent_kafka import ConsumerGroupTopicPartitions, KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient

    admin = None  # its console side serves one cluster, so one client, made on the first request
    while True:
        request = _read_frame(read_fd)
        if request is None:  # the console process closed the pipe or died
            return
        config, group_ids, timeout = request
        if admin is None:
            admin = AdminClient(dict(config))
        futures = {
            group_id: admin.list_consumer_group_offsets(
                [ConsumerGroupTopicPartitions(group_id)], request_timeout=timeout
            )[group_id]
            for group_id in group_ids
        }
        answer: dict[str, tuple[str, Any]] = {}
        for group_id, future in futures.items():
            try:
                result = future.result(timeout=timeout + 5)
            except KafkaException as exc:
                answer[group_id] = ("error", _error_tuple(exc.args[0]))
            except FutureTimeout:
                answer[group_id] = ("timeout", None)
            else:
                answer[group_id] = (
                    "ok",
                    [
                        (tp.topic, tp.partition, tp.offset, _error_tuple(tp.error) if tp.error is not None else None)
                        for tp in result.topic_partitions or []
                    ],
                )
        # A client whose coordinator request timed out may never reach the coordinator again, though the
        # broker is back (groups.kafka.admin_clients): the next request gets a new one.
        if any(
            kind == "timeout" or kind == "error" and value[0] == KafkaError._TIMED_OUT
            for kind, value in answer.values()
        ):
            admin = None
        _write_frame(write_fd, answer)


# --- the console side ---------------------------------------------------------------------------


def _pipes(process: subprocess.Popen[bytes]) -> tuple[IO[bytes], IO[bytes]]:
    """The helper's request and answer pipes (it is started with both)."""
    return cast(IO[bytes], process.stdin), cast(IO[bytes], process.stdout)


class HelperDied(Exception):
    """The helper process ended while answering: killed by a signal (librdkafka crashed) or failed."""

    def __init__(self, returncode: int | None):
        super().__init__(returncode)
        self.returncode = returncode

    @property
    def crashed(self) -> bool:
        return self.returncode is not None and self.returncode < 0


class OffsetFetcher:
    """One cluster's helper process, started on first use and after every crash."""

    # How long past the request timeout the helper may take to answer before it is killed.
    grace_seconds = 15.0

    def __init__(self, config: dict, command: list[str] | None = None) -> None:
        # Plain values only: the helper does not import the console's modules (str subclasses such as
        # model choices would make it try to).
        self._config = tuple(sorted((str(k), str(v) if isinstance(v, str) else v) for k, v in config.items()))
        # -P: run by path, the script's own directory (this package's) must not shadow standard modules.
        self._command = command or [sys.executable, "-P", os.path.abspath(__file__)]
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self.crashes = 0  # of helpers this process has seen die, for the logs and tests

    def _helper(self) -> subprocess.Popen[bytes]:
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen(
                self._command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                close_fds=True,
            )
        return self._process

    def _discard(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                process.kill()
            process.wait()
            for pipe in _pipes(process):
                pipe.close()

    def fetch(self, group_ids: list[str], timeout: float) -> dict:
        """{group_id: ("ok", [(topic, partition, offset, error)]) | ("error", error) | ("timeout", None)}.

        Raises HelperDied when the helper crashed twice in a row, TimeoutError when it did not
        answer in time (it is then replaced).
        """
        request = (self._config, [str(g) for g in group_ids], float(timeout))
        with self._lock:
            for attempt in range(2):
                process = self._helper()
                requests, answers = _pipes(process)
                try:
                    _write_frame(requests.fileno(), request)
                    answer = _read_frame(answers.fileno(), time.monotonic() + timeout + self.grace_seconds)
                except TimeoutError:
                    self._discard()
                    raise
                except (BrokenPipeError, ConnectionResetError):
                    answer = None
                if answer is not None:
                    return answer
                self.crashes += 1
                self._discard()  # it closed its answer pipe: it has ended, or is killed now
                returncode = process.returncode
                if attempt == 0:
                    time.sleep(1.0)  # let the cluster settle on the group's new coordinator
            raise HelperDied(returncode)

    def after_fork_in_child(self) -> None:
        """A forked process (a worker pool) neither shares the parent's pipes nor inherits its lock."""
        self._lock = threading.Lock()
        self._process = None

    def close(self) -> None:
        """End the helper: it leaves when its request pipe closes (killed if it does not)."""
        with self._lock:
            process = self._process
            if process is not None and process.poll() is None:
                _pipes(process)[0].close()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=5)
            self._discard()


if __name__ == "__main__":
    sys.stdout = sys.stderr  # the answer pipe carries frames only
    _serve(0, 1)


# One helper per cluster, so that a cluster slow to answer never holds up reading another's offsets.
_fetchers: dict[tuple, OffsetFetcher] = {}
_fetchers_lock = threading.Lock()


def fetcher_for(config: dict[str, Any]) -> OffsetFetcher:
    """The helper for the cluster with this client config, started on its first use."""
    key = tuple(sorted(config.items()))
    with _fetchers_lock:
        fetcher = _fetchers.get(key)
        if fetcher is None:
            fetcher = _fetchers[key] = OffsetFetcher(config)
        return fetcher


def _after_fork_in_child() -> None:
    for fetcher in _fetchers.values():
        fetcher.after_fork_in_child()


os.register_at_fork(after_in_child=_after_fork_in_child)
