"""The scale benchmark's tiers and its percentile: a benchmark whose seed drifted would measure another load."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from seed_scale import TIERS, plan  # noqa: E402
from web_load import LoadResult  # noqa: E402


def test_tier_s_is_a_thousand_groups_on_twenty_partitions_each():
    the_plan = plan(TIERS["S"])
    assert len(the_plan.groups) == 1_000
    assert set(the_plan.topics.values()) == {20}
    assert 19_500 <= the_plan.rows <= 20_000


def test_tier_m_is_ten_thousand_groups_on_two_hundred_topics_with_about_115000_rows():
    the_plan = plan(TIERS["M"])
    assert len(the_plan.groups) == 10_000
    assert len(the_plan.topics) == 200
    assert 110_000 <= the_plan.rows <= 120_000


def test_a_tier_plans_the_same_groups_and_offsets_at_every_call():
    assert plan(TIERS["S"]) == plan(TIERS["S"])


def test_every_situation_is_seeded_and_caught_up_groups_sit_at_the_log_end():
    tier = TIERS["S"]
    groups = plan(tier).groups
    assert {g.situation for g in groups} == {"lagging", "caught-up", "partial", "live"}
    assert sum(g.situation == "live" for g in groups) == tier.live
    assert all(set(g.committed.values()) == {tier.records} for g in groups if g.situation == "caught-up")
    assert all(max(g.committed.values()) < tier.records for g in groups if g.situation == "lagging")
    partial = next(g for g in groups if g.situation == "partial")
    assert len(partial.committed) == plan(tier).topics[partial.topic] // 2


def test_percentile_is_the_nearest_rank_of_good_requests():
    load = LoadResult("/", clients=1, wall_s=1.0, latencies_s=[i / 8 for i in range(100, 0, -1)])
    assert load.percentile(95) == 95 / 8
    assert load.percentile(50) == 50 / 8
    assert LoadResult("/", clients=1, wall_s=1.0).percentile(95) is None
