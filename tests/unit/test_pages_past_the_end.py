"""The notice an HTML list shows when the page asked for lies past its end (Paginator.get_page gives the last)."""

from django.core.paginator import Paginator

from groups.views.common import MAX_PAGE, past_last_page


def _notice(items: int, per_page: int, asked: int) -> str:
    return past_last_page(Paginator(range(items), per_page).get_page(asked), asked, "event", "events")


def test_a_page_past_the_end_names_the_page_asked_for_the_count_and_the_page_shown():
    assert _notice(120, 50, 99999) == "There is no page 99999: 120 events make 3 pages; this is page 3."
    assert _notice(1, 50, 2) == "There is no page 2: 1 event makes 1 page; this is page 1."
    assert _notice(12345, 10, 5000) == "There is no page 5000: 12,345 events make 1,235 pages; this is page 1235."


def test_a_page_that_exists_says_nothing():
    assert _notice(120, 50, 3) == _notice(120, 50, 1) == _notice(0, 50, 1) == ""


def test_an_empty_list_says_there_is_nothing_to_list():
    assert _notice(0, 50, 4) == "There is no page 4: there are no events to list, so this is page 1."


def test_a_number_past_any_list_is_not_quoted_as_the_one_asked_for():
    # query_page reads any number above MAX_PAGE (even one of 5,000 digits) as MAX_PAGE.
    assert _notice(3, 50, MAX_PAGE) == "There is no such page: 3 events make 1 page; this is page 1."
