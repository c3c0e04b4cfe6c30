"""One number format on every page: counts (lag, records, totals, progress) with thousands separators,
offsets as plain digits, since operators copy them into commands and tools.

The walk renders the pages against data whose counts and offsets are all four digits long and never
equal, so any number in a page's text can be told apart: a plain number that is no offset is an
unformatted count, a separated number that is an offset is an offset written as a count.
"""

import html
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from groups import audit
from groups.models import AlertEpisode, AlertRule, AlertState, Operation, Replay
from groups.snapshot.collector import COLLECTED, collect
from tests import kafkatools as kt

pytestmark = [
    pytest.mark.integration,
    pytest.mark.engine_neutral("how figures are written on pages"),
]

# p0: log 100..2600, committed 1175 (lag 1,425); p1: log 50..1300, committed 1240 (lag 60).
LOG = {0: (100, 2600), 1: (50, 1300)}
COMMITTED = {0: 1175, 1: 1240}
# The replay's read position and what it says it copied: 1334 is an offset, the copied counts are not.
READ_UP_TO = 1334
# 1500: the example offset the reset form's hints give.
OFFSETS = {100, 2600, 50, 1300, 1175, 1240, READ_UP_TO, 1500}

NUMBER = re.compile(
    # Not part of a word, a decimal, a time, a date, an address or a port; optionally grouped by commas.
    r"(?<![\w.:,])(\d{1,3}(?:,\d{3})+|\d{4,})(?![\w,]|[.:-]\d)"
)


def misformatted(page: str, names: list[str], plain: frozenset[int] = frozenset()) -> list[str]:
    """Numbers of the page's text that break the rule, each with a little of what surrounds it.

    `plain`: values the page rightly writes as plain digits beside the known OFFSETS."""
    offsets = OFFSETS | plain
    # Scripts and styles are no text; a select's options are names (every topic of the shared broker).
    text = re.sub(r"<(script|style|select)\b.*?</\1>", " ", page, flags=re.S)
    text = html.unescape(re.sub(r"<[^>]+>", " ", text))
    for name in sorted(names, key=len, reverse=True):
        text = text.replace(name, " ")
    text = re.sub(r"\s+", " ", text)
    problems = []
    for match in NUMBER.finditer(text):
        written, value = match.group(1), int(match.group(1).replace(",", ""))
        if len(written) >= 64:
            continue  # a hash of digits only: the chain's start is 64 zeros
        if text[match.start() - 1 : match.start()] == "#":
            continue  # an event's or operation's number (#20601) names it, as an offset names a record
        around = text[max(0, match.start() - 50) : match.end() + 30]
        if "," not in written and value not in offsets:
            problems.append(f"unformatted count {written!r} in …{around}…")
        elif "," in written and value in offsets:
            problems.append(f"offset written as a count {written!r} in …{around}…")
    return problems


@pytest.fixture
def world(kafka_bootstrap, cluster, unique, client, make_user, use_test_redis):
    topic, target, group = unique("format"), unique("format-target"), unique("format-group")
    kt.create_topic(kafka_bootstrap, topic, 2)
    kt.create_topic(kafka_bootstrap, target, 2)
    kt.produce(kafka_bootstrap, topic, {p: end for p, (_, end) in LOG.items()})
    for partition, (start, _) in LOG.items():
        kt.delete_records(kafka_bootstrap, topic, partition, start)
    kt.commit(kafka_bootstrap, group, {(topic, p): offset for p, offset in COMMITTED.items()})
    # The group list and the group and topic pages read the collector's snapshot: one round, as the beat would run.
    report = collect(cluster)
    assert report.outcome == COLLECTED, report.describe()
    client.force_login(make_user("format-admin", "Admin"))
    return {"topic": topic, "target": target, "group": group, "client": client, "cluster": cluster}


def _reset_rows(topic: str) -> list[dict]:
    return [
        {
            "topic": topic,
            "partition": p,
            "before": COMMITTED[p],
            "after": start,
            "log_start": start,
            "log_end": end,
            "clamped": None,
            "note": None,
        }
        for p, (start, end) in LOG.items()
    ]


def _operations(world) -> tuple[Operation, Operation]:
    topic, cluster = world["topic"], world["cluster"]
    reset = Operation.objects.create(
        kind=Operation.Kind.RESET,
        cluster=cluster,
        group_id=world["group"],
        strategy="to-earliest",
        plan=_reset_rows(topic),
        reason="reprocess",
        status=Operation.Status.SUCCEEDED,
        outcome=[
            {"topic": topic, "partition": p, "planned": start, "committed": start, "verified": True}
            for p, (start, _) in LOG.items()
        ],
    )
    audit.record("requested", actor="format-admin", operation=reset, outcome="pending")
    replay = Operation.objects.create(
        kind=Operation.Kind.REPLAY,
        cluster=cluster,
        group_id="",
        plan=[
            {"topic": topic, "partition": p, "start": start, "end": end, "count": end - start, "note": ""}
            for p, (start, end) in LOG.items()
        ],
        reason="copy",
        status=Operation.Status.RUNNING,
        progress_total=3750,
        progress_copied=1234,
        progress_scanned=2345,
        progress_rate=100.0,
        progress_updated=timezone.now(),
        outcome=[{"partition": 0, "position": READ_UP_TO, "copied": 1234, "note": ""}],
    )
    Replay.objects.create(
        operation=replay, copy_group=f"copy-of-{world['group']}", topic=topic, target_topic=world["target"]
    )
    return reset, replay


def _alert(world) -> None:
    rule = AlertRule.objects.create(name="lagging", total_lag_over=1000)
    now = timezone.now()
    AlertState.objects.create(
        rule=rule,
        cluster=world["cluster"],
        group_id=world["group"],
        phase=AlertState.Phase.FIRING,
        firing_since=now,
        pending_since=now,
        summary="total lag of 1,485 messages is over 1,000",
        facts={"status": "lagging", "lag": 1485, "lag_seconds": 1800.0, "members": 0},
        updated=now,
    )
    AlertEpisode.objects.create(
        rule=rule,
        rule_name=rule.name,
        cluster=world["cluster"],
        group_id=world["group"],
        pending_since=now,
        firing_since=now,
        resolved_at=now,
        summary="total lag of 2,345 messages is over 1,000",
        facts={"status": "OK", "lag": 2345, "lag_seconds": 1900.0, "members": 1},
    )


def _pages(world) -> dict[str, str]:
    client, topic, group = world["client"], world["topic"], world["group"]
    reset, replay = _operations(world)
    _alert(world)
    preview_url = reverse("reset_preview", args=["local", group])
    replay_data = {
        "partitions_mode": "all",
        "range_mode": "offsets",
        "offsets": ", ".join(f"{p}:{start}-{end}" for p, (start, end) in LOG.items()),
        "key_filter": "none",
        "header_filter": "none",
        "target_topic": world["target"],
        "partitioning": "same",
        "timestamps": "keep",
    }
    event = reset.events.get()
    responses = {
        "group list": client.get(reverse("group_list", args=["local"]), {"q": group}),
        "reset preview (earliest)": client.post(preview_url, {"strategy": "to-earliest", "scope_mode": "all"}),
        "reset preview (latest)": client.post(preview_url, {"strategy": "to-latest", "scope_mode": "all"}),
        "reset operation": client.get(reverse("operation_page", args=[reset.pk])),
        "replay preview": client.post(reverse("replay_preview", args=["local", topic]), replay_data),
        "replay operation": client.get(reverse("operation_page", args=[replay.pk])),
        "audit log": client.get(reverse("audit_list")),
        "audit event": client.get(reverse("audit_event", args=[event.pk])),
        "alerts": client.get(reverse("alert_list")),
        "alert rules": client.get(reverse("alert_rules")),
    }
    for name, response in responses.items():
        assert response.status_code == 200, f"{name}: {response.status_code}"
    return {name: response.content.decode() for name, response in responses.items()}


def test_every_page_writes_counts_with_separators_and_offsets_as_plain_digits(world):
    pages = _pages(world)
    names = [world["topic"], world["target"], world["group"], f"copy-of-{world['group']}"]
    problems = [f"{name}: {problem}" for name, page in pages.items() for problem in misformatted(page, names)]
    assert not problems, "\n".join(problems)
    # The walk saw the counts it is about: a page that lost them would pass for the wrong reason.
    assert "1,485" in pages["group list"] and "3,750" in pages["reset preview (earliest)"]
    assert "1,485 records will be skipped" in pages["reset preview (latest)"]
    assert "3,750" in pages["replay preview"] and "1,234 / 3,750" in pages["replay operation"]
    assert "lag 2,345" in pages["alerts"]


def _plain_values(context) -> frozenset[int]:
    """What the group and topic pages rightly write as plain digits beyond the known offsets: the offset of
    each partition's newest record (which record that is, the broker decides) and the topic settings, written
    as Kafka's configs take them."""
    newest = {p.newest_offset for p in context.get("partitions") or () if p.newest_offset is not None}
    found = context.get("durability") or [t for t in [context.get("topic_durability")] if t]
    settings = {int(s.value) for t in found for s in t.settings if s.value.isdigit()}
    return frozenset(newest | settings)


def test_the_group_and_topic_pages_write_counts_the_same_way(world):
    client, topic, group = world["client"], world["topic"], world["group"]
    responses = {
        "group page": client.get(reverse("group_page", args=["local", group])),
        "topic page": client.get(reverse("topic_page", args=["local", topic])),
    }
    names = [topic, world["target"], group]
    problems = [
        f"{name}: {problem}"
        for name, response in responses.items()
        for problem in misformatted(response.content.decode(), names, _plain_values(response.context))
    ]
    assert not problems, "\n".join(problems)
    # The pages showed the counts the walk is about: total and per-partition lag, and offsets in log.
    assert "1,485" in responses["group page"].content.decode() and "1,425" in responses["group page"].content.decode()
    assert "2,500" in responses["topic page"].content.decode() and "1,250" in responses["topic page"].content.decode()


def test_the_walk_finds_an_unformatted_count_and_an_offset_written_as_a_count():
    page = "<td>lag 1425</td><td>offset 2,600</td><td>lag 1,425</td><td>offset 2600</td><p>2026-11-21 12:00:00.1234</p>"
    assert [problem.split("'")[1] for problem in misformatted(page, [])] == ["1425", "2,600"]
