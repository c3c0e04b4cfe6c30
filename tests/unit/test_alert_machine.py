"""The alert state machine, rule by rule: fire once, resolve once, hysteresis, durations, re-notify, mutes, and
the episodes it ends."""

from datetime import UTC, datetime, timedelta

import pytest

from groups.alerting.facts import GroupFacts, PartitionFact
from groups.alerting.machine import (
    Conditions,
    Ended,
    Event,
    Phase,
    Tracker,
    Tuning,
    Verdict,
    ended,
    gone,
    judge,
    step,
    summary,
)

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ROUND = timedelta(seconds=15)
TUNING = Tuning(hysteresis=0.1, clear_s=60)


def facts(**figures) -> GroupFacts:
    base = {
        "group_id": "payments",
        "status": "OK",
        "lag": 0,
        "lag_seconds": 0.0,
        "retention_margin_s": None,
        "members": 1,
    }
    return GroupFacts(**{**base, **figures})


def run(conditions: Conditions, rounds: list[GroupFacts], *, muted=lambda i: False, tracker=None, tuning=TUNING):
    """Feed one round every 15 s; return the events with their round index, and the last tracker."""
    tracker, events = tracker or Tracker(), []
    for i, figures in enumerate(rounds):
        tracker, event = step(
            tracker, judge(conditions, figures, tuning), conditions, tuning, now=T0 + i * ROUND, muted=muted(i)
        )
        if event is not None:
            events.append((i, event))
    return events, tracker


STALL = Conditions(statuses=frozenset({"STALL", "ERR"}))
LAG_OVER_100 = Conditions(total_lag_over=100)


def test_a_group_that_never_breaches_stays_idle_and_tells_nobody():
    events, tracker = run(STALL, [facts()] * 10)
    assert events == [] and tracker == Tracker()


def test_a_breach_without_a_duration_fires_in_the_same_round_and_only_once():
    events, tracker = run(STALL, [facts(), facts(status="STALL"), facts(status="STALL"), facts(status="ERR")])
    assert events == [(1, Event.FIRING)]
    assert tracker.phase == Phase.FIRING and tracker.firing_since == T0 + ROUND and tracker.notifications == 1


def test_a_duration_keeps_the_alert_pending_until_it_has_passed():
    conditions = Conditions(total_lag_over=100, for_s=60)
    events, tracker = run(conditions, [facts(lag=500)] * 6)
    # Breaching from round 0 (T0); 60 s later is round 4.
    assert events == [(4, Event.FIRING)]
    assert tracker.pending_since == T0 and tracker.firing_since == T0 + 4 * ROUND


def test_a_pending_alert_that_clears_before_its_duration_goes_back_to_idle_silently():
    conditions = Conditions(total_lag_over=100, for_s=60)
    events, tracker = run(conditions, [facts(lag=500), facts(lag=500), facts(lag=10)] + [facts(lag=500)] * 5)
    assert events == [(7, Event.FIRING)]  # the duration started again at round 3
    assert tracker.pending_since == T0 + 3 * ROUND


def test_a_value_in_the_hysteresis_band_also_restarts_the_duration():
    conditions = Conditions(total_lag_over=100, for_s=30)
    _, tracker = run(conditions, [facts(lag=500), facts(lag=95)])
    assert tracker.phase == Phase.IDLE and tracker.pending_since is None


def test_a_firing_alert_resolves_once_every_condition_stays_clear_for_the_clear_period():
    rounds = [facts(lag=500)] + [facts(lag=0)] * 8
    events, tracker = run(LAG_OVER_100, rounds)
    # Clear from round 1; 60 s later is round 5.
    assert events == [(0, Event.FIRING), (5, Event.RESOLVED)]
    assert tracker.phase == Phase.RESOLVED and tracker.resolved_at == T0 + 5 * ROUND


def test_a_breach_during_the_clear_period_starts_it_again():
    rounds = [facts(lag=500), facts(lag=0), facts(lag=0), facts(lag=500)] + [facts(lag=0)] * 6
    events, _ = run(LAG_OVER_100, rounds)
    assert events == [(0, Event.FIRING), (8, Event.RESOLVED)]


def test_a_value_just_under_the_threshold_is_not_clear_so_the_alert_keeps_firing():
    # 95 is under 100 but above 100 × (1 − 10 %): inside the band.
    events, tracker = run(LAG_OVER_100, [facts(lag=500)] + [facts(lag=95)] * 20)
    assert events == [(0, Event.FIRING)] and tracker.phase == Phase.FIRING and tracker.clear_since is None


def test_a_value_oscillating_around_the_threshold_fires_once_and_never_flaps():
    rounds = [facts(lag=101 if i % 2 == 0 else 99) for i in range(40)]
    events, _ = run(LAG_OVER_100, rounds)
    assert events == [(0, Event.FIRING)]


def test_a_value_swinging_clear_and_back_every_round_does_not_resolve():
    rounds = [facts(lag=150 if i % 2 == 0 else 10) for i in range(40)]
    events, _ = run(LAG_OVER_100, rounds)
    assert events == [(0, Event.FIRING)]


def test_without_hysteresis_a_clear_period_of_zero_resolves_at_the_first_clear_round():
    tuning = Tuning(hysteresis=0, clear_s=0)
    events, _ = run(LAG_OVER_100, [facts(lag=101), facts(lag=100)], tuning=tuning)
    assert events == [(0, Event.FIRING), (1, Event.RESOLVED)]


def test_a_firing_alert_is_told_again_after_the_re_notify_interval_only():
    conditions = Conditions(statuses=frozenset({"STALL"}), renotify_s=60)
    events, tracker = run(conditions, [facts(status="STALL")] * 10)
    assert events == [(0, Event.FIRING), (4, Event.RENOTIFY), (8, Event.RENOTIFY)]
    assert tracker.notifications == 3


def test_without_a_re_notify_interval_a_firing_alert_is_told_once():
    events, _ = run(STALL, [facts(status="STALL")] * 50)
    assert events == [(0, Event.FIRING)]


def test_a_mute_holds_back_firing_and_it_fires_after_the_mute_if_still_breaching():
    events, tracker = run(STALL, [facts(status="STALL")] * 6, muted=lambda i: i < 3)
    assert events == [(3, Event.FIRING)]
    assert tracker.pending_since == T0  # the breach was tracked all along


def test_a_breach_that_clears_during_the_mute_is_never_told():
    rounds = [facts(status="STALL")] * 3 + [facts()] * 3
    events, tracker = run(STALL, rounds, muted=lambda i: i < 4)
    assert events == [] and tracker.phase == Phase.IDLE


def test_a_mute_holds_back_re_notifying():
    conditions = Conditions(statuses=frozenset({"STALL"}), renotify_s=30)
    events, _ = run(conditions, [facts(status="STALL")] * 8, muted=lambda i: 1 <= i <= 5)
    assert events == [(0, Event.FIRING), (6, Event.RENOTIFY)]


def test_a_mute_never_holds_back_the_resolve_of_an_alert_that_was_told():
    rounds = [facts(status="STALL")] + [facts()] * 6
    events, _ = run(STALL, rounds, muted=lambda i: i >= 1)
    assert events == [(0, Event.FIRING), (5, Event.RESOLVED)]


def test_a_resolved_alert_fires_again_as_a_new_episode():
    rounds = [facts(lag=500)] + [facts(lag=0)] * 5 + [facts(lag=500)]
    events, tracker = run(LAG_OVER_100, rounds)
    assert events == [(0, Event.FIRING), (5, Event.RESOLVED), (6, Event.FIRING)]
    assert tracker.phase == Phase.FIRING and tracker.resolved_at is None and tracker.notifications == 1


def test_a_new_breach_after_a_resolve_that_clears_before_firing_leaves_the_alert_resolved():
    conditions = Conditions(total_lag_over=100, for_s=60)
    resolved = Tracker(
        phase=Phase.RESOLVED, firing_since=T0 - timedelta(hours=1), resolved_at=T0 - timedelta(minutes=5)
    )
    events, tracker = run(conditions, [facts(lag=500), facts(lag=0)], tracker=resolved)
    assert events == [] and tracker.phase == Phase.RESOLVED and tracker.resolved_at == resolved.resolved_at


def test_a_new_episode_counts_its_notifications_from_zero():
    conditions = Conditions(total_lag_over=100, for_s=30, renotify_s=15)
    told_three_times = Tracker(
        phase=Phase.RESOLVED,
        firing_since=T0 - timedelta(hours=1),
        resolved_at=T0 - timedelta(minutes=5),
        last_notified=T0 - timedelta(minutes=5),
        notifications=3,
    )
    _, pending = run(conditions, [facts(lag=500)], tracker=told_three_times)
    assert pending.phase == Phase.PENDING and pending.notifications == 0 and pending.last_notified is None
    events, firing = run(conditions, [facts(lag=500)] * 3, tracker=told_three_times)
    assert events == [(2, Event.FIRING)] and firing.notifications == 1


def _episodes(conditions: Conditions, rounds: list[GroupFacts], *, muted=lambda i: False) -> list[Ended]:
    tracker, found = Tracker(), []
    for i, figures in enumerate(rounds):
        now = T0 + i * ROUND
        after, event = step(tracker, judge(conditions, figures, TUNING), conditions, TUNING, now=now, muted=muted(i))
        episode = ended(tracker, after, event, now=now)
        if episode is not None:
            found.append(episode)
        tracker = after
    return found


def test_each_resolve_ends_an_episode_with_when_it_began_fired_and_resolved_and_what_it_told():
    conditions = Conditions(total_lag_over=100, for_s=15, renotify_s=15)
    # Breaching from round 0, fires at 1, told again at 2; clear from 3, resolved 60 s later at 7;
    # breaching again from 8, fires at 9, resolved at 14.
    rounds = [facts(lag=500)] * 3 + [facts(lag=0)] * 5 + [facts(lag=500)] * 2 + [facts(lag=0)] * 5
    assert _episodes(conditions, rounds) == [
        Ended(pending_since=T0, firing_since=T0 + ROUND, resolved_at=T0 + 7 * ROUND, notifications=3),
        Ended(pending_since=T0 + 8 * ROUND, firing_since=T0 + 9 * ROUND, resolved_at=T0 + 14 * ROUND, notifications=2),
    ]


def test_a_pending_alert_that_clears_ends_an_episode_that_never_fired():
    rounds = [facts(status="STALL")] * 3 + [facts()] * 3
    assert _episodes(STALL, rounds, muted=lambda i: i < 4) == [
        Ended(pending_since=T0, firing_since=None, resolved_at=T0 + 3 * ROUND, notifications=0)
    ]


def test_a_firing_alert_and_a_quiet_group_end_no_episode():
    conditions = Conditions(statuses=frozenset({"STALL"}), renotify_s=15)
    assert _episodes(conditions, [facts()] * 3 + [facts(status="STALL")] * 5) == []


def test_a_group_that_is_gone_resolves_its_firing_alert_after_the_clear_period():
    firing = Tracker(phase=Phase.FIRING, firing_since=T0, last_notified=T0, notifications=1)
    tracker, event = step(firing, gone(), STALL, TUNING, now=T0, muted=False)
    assert event is None and tracker.clear_since == T0
    tracker, event = step(tracker, gone(), STALL, TUNING, now=T0 + timedelta(seconds=60), muted=False)
    assert event == Event.RESOLVED


def test_a_status_condition_breaches_on_a_listed_status_and_is_clear_on_any_other():
    assert judge(STALL, facts(status="ERR"), TUNING) == Verdict(True, False, ("status ERR is one of ERR, STALL",))
    assert judge(STALL, facts(status="WARN"), TUNING) == Verdict(
        False, True, (), cleared=("status now WARN, none of ERR, STALL",)
    )


def test_a_rule_on_a_partition_status_breaches_when_a_partition_behind_the_groups_err_has_it():
    # Burrow's rules: a STOP or STALL partition makes its group ERR; the group itself is never STALL.
    stall_only = Conditions(statuses=frozenset({"STALL"}))
    stalled = facts(
        status="ERR",
        partition_statuses=(
            PartitionFact("orders", 0, "STOP", "No commit ..."),
            PartitionFact("orders", 3, "STALL", "A consumer owns ..."),
        ),
    )
    assert judge(stall_only, stalled, TUNING) == Verdict(
        True, False, ("status ERR with partition orders:3 STALL, one of STALL",)
    )
    stopped = facts(status="ERR", partition_statuses=(PartitionFact("orders", 0, "STOP", ""),))
    assert judge(stall_only, stopped, TUNING) == Verdict(
        False, True, (), cleared=("status now ERR, no partition STALL",)
    )
    many = facts(status="ERR", partition_statuses=tuple(PartitionFact("t", p, "STOP", "") for p in range(5)))
    assert judge(Conditions(statuses=frozenset({"STOP"})), many, TUNING).reasons == (
        "status ERR with partition t:0 STOP, t:1 STOP, t:2 STOP and 2 more, one of STOP",
    )


@pytest.mark.parametrize(
    ("seconds", "breaching", "clear"),
    [(601, True, False), (600, False, False), (541, False, False), (540, False, True), (None, False, False)],
)
def test_lag_in_seconds_breaches_over_the_threshold_and_clears_only_below_the_band(seconds, breaching, clear):
    verdict = judge(Conditions(lag_seconds_over=600), facts(lag_seconds=seconds), TUNING)
    assert (verdict.breaching, verdict.clear) == (breaching, clear)


def test_a_lag_in_seconds_that_cannot_be_told_neither_fires_nor_resolves():
    conditions = Conditions(lag_seconds_over=600)
    events, tracker = run(conditions, [facts(lag_seconds=900)] + [facts(lag_seconds=None)] * 10)
    assert events == [(0, Event.FIRING)] and tracker.phase == Phase.FIRING


@pytest.mark.parametrize(
    ("margin", "breaching", "clear", "reason"),
    [
        (1799, True, False, "retention margin of 29m 59s is under 30m"),
        (1800, False, False, None),
        (1979, False, False, None),
        (1980, False, True, None),
        (None, False, True, None),
        (
            0,
            True,
            False,
            "unread records are past retention: already deleted, or deleted at the broker's next retention check",
        ),
    ],
)
def test_the_retention_margin_breaches_under_the_threshold_and_clears_above_the_band(margin, breaching, clear, reason):
    verdict = judge(Conditions(retention_margin_under_s=1800), facts(retention_margin_s=margin), TUNING)
    assert (verdict.breaching, verdict.clear) == (breaching, clear)
    assert verdict.reasons == ((reason,) if reason else ())


def test_a_value_in_the_hysteresis_band_says_why_it_is_not_clear_yet():
    lag_s = judge(Conditions(lag_seconds_over=90), facts(lag_seconds=86.4), TUNING)
    assert (lag_s.breaching, lag_s.clear, lag_s.reasons) == (False, False, ())
    assert lag_s.held == ("lag of 1m 26s is back to 1m 30s or under, not yet to 1m 21s (10% hysteresis)",)
    total = judge(Conditions(total_lag_over=1000), facts(lag=950), TUNING)
    assert total.held == ("total lag of 950 messages is back to 1,000 or under, not yet to 900 (10% hysteresis)",)
    margin = judge(Conditions(retention_margin_under_s=1800), facts(retention_margin_s=1900), TUNING)
    assert margin.held == ("retention margin of 31m 40s is back to 30m or over, not yet to 33m (10% hysteresis)",)
    unknown = judge(Conditions(lag_seconds_over=90), facts(lag_seconds=None), TUNING)
    assert unknown.held == ("the lag in seconds cannot be told this round",)
    breaching = judge(Conditions(lag_seconds_over=90), facts(lag_seconds=163.9), TUNING)
    assert (breaching.reasons, breaching.held) == (("lag of 2m 44s is over 1m 30s",), ())
    # 20.4 s and 20 s both read "20s": the words say it is just over, not "20s is over 20s".
    barely = judge(Conditions(lag_seconds_over=20), facts(lag_seconds=20.4), TUNING)
    assert barely.reasons == ("lag of 20s is just over 20s",)


def test_no_members_breaches_only_at_zero_members():
    conditions = Conditions(no_members=True)
    assert judge(conditions, facts(members=0), TUNING).reasons == ("the group has no members",)
    assert judge(conditions, facts(members=2), TUNING) == Verdict(
        False, True, (), cleared=("the group has 2 members again",)
    )


def test_any_breaching_condition_fires_and_all_must_be_clear_to_resolve():
    conditions = Conditions(statuses=frozenset({"STALL"}), total_lag_over=100, no_members=True)
    breaching = judge(conditions, facts(status="OK", lag=500, members=3), TUNING)
    assert breaching.breaching and breaching.reasons == ("total lag of 500 messages is over 100",)
    in_band = judge(conditions, facts(status="OK", lag=95, members=3), TUNING)
    assert not in_band.breaching and not in_band.clear
    assert judge(conditions, facts(status="OK", lag=0, members=3), TUNING).clear


def test_replay_checkpoint_groups_are_never_alerted_by_name_or_by_flag():
    assert facts(group_id="console-replay-0123456789abcdef").never_alerted
    assert facts(group_id="payments", is_replay_checkpoint=True).never_alerted
    assert not facts(group_id="replay-consumers").never_alerted


def test_the_figures_an_alert_keeps_include_the_partitions_that_caused_the_status():
    figures = facts(status="STALL", partition_statuses=(PartitionFact("orders", 3, "STALL", "committed offset stuck"),))
    assert figures.as_json()["partitions"] == [
        {"topic": "orders", "partition": 3, "status": "STALL", "reason": "committed offset stuck"}
    ]


def _said(conditions: Conditions, rounds: list[tuple[timedelta, GroupFacts, bool]]) -> list[tuple[Event | None, str]]:
    """Feed rounds (time after T0, figures, after a collection gap) and keep what the alert says after each, as
    groups.alerting.rounds does: the summary, and why it fired from the last breaching round's."""
    tracker, fired, said, out = Tracker(), "", "", []
    for offset, figures, gap in rounds:
        now = T0 + offset
        verdict = judge(conditions, figures, TUNING)
        after, event = step(tracker, verdict, conditions, TUNING, now=now, muted=False, gap=gap)
        said = summary(tracker, after, event, verdict, TUNING, fired=fired, now=now) or said
        fired = said if verdict.breaching else fired
        out.append((event, said))
        tracker = after
    return out


def test_a_resolve_says_the_value_it_cleared_with_and_since_when_and_why_it_had_fired():
    rounds = [(i * ROUND, facts(lag=2318 if i == 0 else 37), False) for i in range(6)]
    said = _said(Conditions(total_lag_over=1500), rounds)
    assert said[0] == (Event.FIRING, "total lag of 2,318 messages is over 1,500")
    assert said[5] == (
        Event.RESOLVED,
        "resolved: total lag back to 37, at or under 1,350 (the rule's 1,500 less 10% hysteresis), clear since "
        "09:00:15 UTC; it fired on: total lag of 2,318 messages is over 1,500",
    )


def test_a_firing_alert_that_is_clearing_says_its_value_now_and_when_it_resolves_if_it_stays_clear():
    conditions = Conditions(lag_seconds_over=20)
    said = _said(conditions, [(timedelta(0), facts(lag_seconds=36.0), False), (ROUND, facts(lag_seconds=5.0), False)])
    assert said[0] == (Event.FIRING, "lag of 36s is over 20s")
    assert said[1] == (
        None,
        "lag back to 5s, at or under 18s (the rule's 20s less 10% hysteresis), clear since 09:00:15 UTC; "
        "resolves at 09:01:15 UTC if it stays clear",
    )
    # Back in the band between: it says why it still fires, no longer that it is clearing.
    _, band = _said(
        conditions, [(timedelta(0), facts(lag_seconds=36.0), False), (ROUND, facts(lag_seconds=19.0), False)]
    )
    assert band[1].startswith("still firing: lag of 19s is back to 20s or under")


def test_a_collection_gap_restarts_the_clear_timer_instead_of_counting_as_clear():
    quiet = facts(lag=0)
    # Fires at 0, clear from 15 s; no round from 30 s to 6 min 30 s (the collector could not read the cluster).
    rounds = [(timedelta(0), facts(lag=500), False), (ROUND, quiet, False), (2 * ROUND, quiet, False)]
    after_gap = [(timedelta(seconds=390), quiet, True), (timedelta(seconds=420), quiet, False)]
    after_gap += [(timedelta(seconds=450), quiet, False)]
    said = _said(LAG_OVER_100, rounds + after_gap)
    assert [event for event, _ in said] == [Event.FIRING, None, None, None, None, Event.RESOLVED]
    assert said[3][1].endswith("clear since 09:06:30 UTC; resolves at 09:07:30 UTC if it stays clear")
    # The same rounds without the gap flag count the time between as clear, and resolve at once.
    assert _said(LAG_OVER_100, rounds + [(timedelta(seconds=390), quiet, False)])[3][0] == Event.RESOLVED


def test_a_collection_gap_restarts_a_pending_alerts_duration():
    conditions = Conditions(total_lag_over=100, for_s=60)
    lagging = facts(lag=500)
    rounds = [(timedelta(0), lagging, False), (timedelta(seconds=300), lagging, True)]
    rounds += [(timedelta(seconds=330), lagging, False), (timedelta(seconds=360), lagging, False)]
    assert [event for event, _ in _said(conditions, rounds)] == [None, None, None, Event.FIRING]
    tracker, _ = step(Tracker(), judge(conditions, lagging, TUNING), conditions, TUNING, now=T0, muted=False)
    tracker, _ = step(
        tracker,
        judge(conditions, lagging, TUNING),
        conditions,
        TUNING,
        now=T0 + timedelta(seconds=300),
        muted=False,
        gap=True,
    )
    assert tracker.phase == Phase.PENDING and tracker.pending_since == T0 + timedelta(seconds=300)
