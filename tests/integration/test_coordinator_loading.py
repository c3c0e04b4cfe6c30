"""The console reads committed offsets from a broker whose group coordinator is still loading.

librdkafka's AdminClient crashes its process on some of the answers such a broker gives (see
groups/kafka/offsets_helper.py). A brand-new broker is where that happened to the test suite itself; here
the console's own client asks one, from its first second, until it answers. If the crash reached
this process, pytest would die with it: the test fails by ending the run.
"""

from __future__ import annotations

import time

import pytest

from groups import kafka
from groups.kafka import TP, ConsoleError, client_for
from groups.models import Cluster
from localkafka.broker import LocalKafka
from tests import kafkatools as kt

pytestmark = [
    pytest.mark.integration,
    pytest.mark.engine_neutral("the client's retries while Kafka loads a coordinator"),
]


def test_committed_offsets_from_a_broker_that_just_started(tmp_path):
    broker = LocalKafka(tmp_path / "kafka")
    bootstrap = broker.start()
    try:
        client = client_for(Cluster(name="fresh", bootstrap_servers=bootstrap))
        helper = kafka.offset_fetcher(client._config)
        refusals, deadline = [], time.monotonic() + 60
        while True:
            try:
                offsets = client.committed_offsets(["fresh-a", "fresh-b"])
                break
            except ConsoleError as exc:
                # Only "not ready yet" is acceptable, and it says what to do.
                assert exc.retriable and "moment" in str(exc), str(exc)
                refusals.append(exc.code)
                assert time.monotonic() < deadline, f"no answer in 60 s; refusals: {refusals}"
                time.sleep(0.2)
        assert offsets == {"fresh-a": {}, "fresh-b": {}}
        print(f"refusals before the coordinator answered: {refusals}; helper crashes survived: {helper.crashes}")

        # And it goes on reading what is there.
        kt.create_topic(bootstrap, "fresh-topic", 2)
        kt.commit(bootstrap, "fresh-a", {("fresh-topic", 0): 0, ("fresh-topic", 1): 0})
        assert client.committed_offsets(["fresh-a"]) == {"fresh-a": {TP("fresh-topic", 0): 0, TP("fresh-topic", 1): 0}}
    finally:
        broker.stop()
