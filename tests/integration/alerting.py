"""Test helpers for alerts: a real HTTP receiver for webhooks, and GroupFacts rounds to drive the engine."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from groups.alerting import GroupFacts, PartitionFact, evaluate_round

ROUND = timedelta(seconds=15)


class Receiver:
    """An HTTP server on 127.0.0.1 that records every POST and answers with `status`."""

    def __init__(self):
        self.requests: list[dict] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                receiver.requests.append(
                    {
                        "at": time.monotonic(),
                        "path": self.path,
                        "content_type": self.headers.get("Content-Type"),
                        "body": json.loads(raw),
                    }
                )
                status = receiver.status
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if status < 400 else b"receiver is down for the test")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def bodies(self, event: str | None = None) -> list[dict]:
        return [r["body"] for r in self.requests if event is None or r["body"].get("event") == event]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# Partition statuses: a group with one is ERR (Burrow's rules), as the collector reports it.
_PARTITION_LEVEL = {"STOP", "STALL", "REWIND", "AHEAD"}


def group(group_id: str, **figures) -> GroupFacts:
    """A group's facts; `status` a partition status makes the group ERR with partition 0 of 'events' in it."""
    base = {"status": "OK", "lag": 0, "lag_seconds": 0.0, "retention_margin_s": None, "members": 1}
    if figures.get("status") in _PARTITION_LEVEL:
        figures["partition_statuses"] = (PartitionFact("events", 0, figures["status"], "as the test says"),)
        figures["status"] = "ERR"
    return GroupFacts(group_id=group_id, **{**base, **figures})


def rounds(cluster, start: datetime, sequence: list[list[GroupFacts]]) -> list:
    """Evaluate one round per entry, 15 s apart from `start`; the reports in order."""
    return [evaluate_round(cluster, facts, start + i * ROUND) for i, facts in enumerate(sequence)]
