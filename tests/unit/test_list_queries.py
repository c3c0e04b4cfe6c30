"""The lists' query parameters: what they take, and the reason they give for what they refuse."""

import pytest
from django.test import RequestFactory

from groups.views.common import BadQuery
from groups.views.filters import GroupQuery, group_query, since_ms, topic_query

get = RequestFactory().get


@pytest.mark.parametrize(
    "raw, ms",
    [
        ("PT6H", 6 * 3_600_000),
        ("P7D", 7 * 86_400_000),
        ("PT90M", 5_400_000),
        ("P1DT12H", 36 * 3_600_000),
        ("pt30s", 30_000),
        ("", 6 * 3_600_000),
        ("P30D", 30 * 86_400_000),
    ],
)
def test_since_reads_iso_8601_durations(raw, ms):
    assert since_ms(get("/", {"since": raw})) == ms


@pytest.mark.parametrize(
    "raw", ["6h", "P", "PT", "P1DT", "PT0S", "P31D", "-PT1H", "PT1.5H", "P1W", "PT9999999999H", f"P{'9' * 5000}D"]
)
def test_since_refuses_what_is_not_a_duration_it_can_answer(raw):
    with pytest.raises(BadQuery, match="since must be"):
        since_ms(get("/", {"since": raw}))


def test_a_query_writes_back_only_what_differs_from_the_defaults():
    query = group_query(get("/", {"q": "pay", "min_lag": "10", "sort": "-lag", "page": "3", "per_page": "50"}))
    assert query == GroupQuery(q="pay", min_lag=10, page=3)
    assert query.params() == "min_lag=10&q=pay&page=3"
    assert query.base_params == "min_lag=10&q=pay"


def test_column_headers_link_to_their_sort_and_show_the_current_direction():
    query = group_query(get("/", {"sort": "lag", "state": "Empty"}))
    spec = (("group", "Group", False, False), ("lag", "Lag", True, True), ("retention", "Margin", True, False))
    group, lag, retention = query.columns(spec)
    # Largest lag first is the default order, so its link carries no sort.
    assert (lag.direction, lag.arrow, lag.href) == ("ascending", "▲", "?state=Empty")
    assert (group.direction, group.href) == ("", "?state=Empty&sort=group")
    assert retention.href == "?state=Empty&sort=retention"  # the smallest margin, the worst, first
    assert group_query(get("/", {"sort": "-lag"})).columns(spec)[1].href == "?sort=lag"


def test_the_api_takes_any_page_size_up_to_its_limit_and_pages_only_the_listed_sizes():
    assert group_query(get("/", {"per_page": "7"}), api=True).per_page == 7
    with pytest.raises(BadQuery, match="per_page must be one of 25, 50, 100, 500"):
        group_query(get("/", {"per_page": "7"}))
    with pytest.raises(BadQuery, match="from 1 to 1000"):
        group_query(get("/", {"per_page": "1001"}), api=True)


def test_a_scoped_reader_cannot_sort_topics_by_figures_of_groups_it_may_not_see():
    assert topic_query(get("/", {"sort": "-messages"}), scoped=True).sort == "-messages"
    for key in ("groups", "-lag", "lag_seconds"):
        with pytest.raises(BadQuery, match="view right on every group"):
            topic_query(get("/", {"sort": key}), scoped=True)
        assert topic_query(get("/", {"sort": key})).sort == key


@pytest.mark.parametrize(
    "params, reason",
    [
        ({"per_page": "9" * 5000}, "per_page must be a whole number from 1 to 1000"),
        ({"per_page": "00001001"}, "per_page must be a whole number from 1 to 1000"),
        ({"min_lag": "9" * 5000}, "min_lag must be a whole number from 0 to 9223372036854775807"),
        ({"min_lag": str(2**63)}, "min_lag must be a whole number from 0 to 9223372036854775807"),
    ],
)
def test_numbers_past_what_the_database_holds_are_refused_with_the_range(params, reason):
    """int() refuses more than 4,300 digits, and a database integer holds 64 bits: either was a 500."""
    with pytest.raises(BadQuery, match=reason):
        group_query(get("/", params), api=True)
    assert group_query(get("/", {"per_page": "0100", "min_lag": str(2**63 - 1)}), api=True).per_page == 100
