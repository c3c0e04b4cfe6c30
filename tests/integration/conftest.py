"""Fixtures shared by integration test modules."""

from __future__ import annotations

import pytest

from tests import kafkatools as kt


@pytest.fixture
def situations(kafka_bootstrap, unique):
    """Groups in the situations operators meet, built on fresh topics, torn down afterwards."""
    b = kafka_bootstrap
    orders, payments, audit = unique("orders"), unique("payments"), unique("audit")
    kt.create_topic(b, orders, 3)
    kt.create_topic(b, payments, 2)
    kt.create_topic(b, audit, 1)
    kt.produce(b, orders, {0: 30, 1: 20, 2: 10})
    kt.produce(b, payments, {0: 15, 1: 25})
    kt.produce(b, audit, {0: 40})

    groups = {
        "stable_classic": unique("stable-classic"),
        "stable_consumer": unique("stable-kip848"),
        "empty_lag": unique("empty-lag"),
        "partial": unique("partial-offsets"),
        "below_start": unique("below-log-start"),
    }
    # Commits first: an Empty group accepts them, and members that never commit leave them be.
    kt.commit(b, groups["stable_classic"], {(orders, 0): 25, (orders, 1): 5})
    kt.commit(b, groups["stable_consumer"], {(payments, 0): 10, (payments, 1): 25})
    kt.commit(b, groups["empty_lag"], {(orders, 0): 10, (orders, 1): 10, (orders, 2): 10})
    kt.commit(b, groups["partial"], {(payments, 0): 7})
    kt.commit(b, groups["below_start"], {(audit, 0): 5})
    kt.delete_records(b, audit, 0, before=20)

    members = [
        kt.Member(b, groups["stable_classic"], [orders], client_id="orders-a"),
        kt.Member(b, groups["stable_classic"], [orders], client_id="orders-b"),
        kt.Member(b, groups["stable_consumer"], [payments], protocol="consumer", client_id="payments-848"),
    ]
    try:
        for m in members:
            m.wait_assigned(60)
        admin = kt.admin(b)

        def settled():
            described = admin.describe_consumer_groups([groups["stable_classic"], groups["stable_consumer"]])
            d1 = described[groups["stable_classic"]].result(timeout=10)
            d2 = described[groups["stable_consumer"]].result(timeout=10)
            return (
                str(d1.state.name) == "STABLE"
                and len(d1.members) == 2
                and all(m.assignment.topic_partitions for m in d1.members)
                and str(d2.state.name) == "STABLE"
                and len(d2.members) == 1
            )

        kt.wait_for(settled, timeout=60, what="both live groups to be Stable with assignments")
        yield groups
    finally:
        for m in members:
            m.stop()
