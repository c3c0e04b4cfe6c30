"""Forms that fit the task and times in the reader's zone, as Chromium shows them, with and without JavaScript."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta

import pytest

from tests import kafkatools as kt
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser

PASSWORD = "forms-browser-password"
COMMITTED = {0: 30, 1: 40}
TOKEN_CREATED = datetime(2026, 3, 14, 23, 30, 5, tzinfo=UTC)
TOKYO = timedelta(hours=9)


@pytest.fixture
def chromium():
    """Headless Chromium, for tests that need contexts of their own (no JavaScript, another time zone)."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is not installed: run `make test` to install it.", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def empty_group(kafka_bootstrap, unique):
    """An Empty group with committed offsets on a topic of 2 partitions of 50 records each."""
    topic, group = unique("forms-topic"), unique("forms-group")
    kt.create_topic(kafka_bootstrap, topic, 2)
    kt.produce(kafka_bootstrap, topic, {0: 50, 1: 50})
    kt.commit(kafka_bootstrap, group, {(topic, p): o for p, o in COMMITTED.items()})
    return topic, group


def _page(chromium, live_server, username: str, *, javascript: bool = True, timezone_id: str | None = None):
    """A page signed in as `username` in a context of its own."""
    options: dict = {"viewport": {"width": 1280, "height": 900}, "java_script_enabled": javascript}
    if timezone_id:
        options["timezone_id"] = timezone_id
    page = chromium.new_context(**options).new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    assert page.locator("#signed-in-as").inner_text().strip() == username
    return page


def _visible(page, selector: str) -> bool:
    return page.locator(selector).is_visible()


def _hint_shown(page) -> list[str]:
    return [text.split(":")[0] for text in page.locator("#reset-form ul.hints li:visible").all_inner_texts()]


def test_the_reset_form_shows_only_the_chosen_strategy_s_fields_and_its_picker_writes_the_field(
    chromium, live_server, live_cluster, empty_group, make_user
):
    _, group = empty_group
    make_user("olga", "Operator", password=PASSWORD)
    page = _page(chromium, live_server, "olga", timezone_id="Asia/Tokyo")
    page.goto(f"{live_server.url}/clusters/local/reset/{group}/")

    # Earliest needs no value: no value, no hints, no file; the scope text only once topics are chosen.
    assert page.locator("#id_strategy").input_value() == "to-earliest"
    assert not _visible(page, "#id_value") and not _visible(page, "#id_file") and _hint_shown(page) == []
    assert _visible(page, "#id_scope_mode_0") and not _visible(page, "#id_scope")
    page.locator("#id_scope_mode_1").check()
    assert _visible(page, "#id_scope")

    page.locator("#id_strategy").select_option("to-offset")
    assert _visible(page, "#id_value") and _hint_shown(page) == ["Offset"]
    assert not _visible(page, "#id_value_picker") and not _visible(page, "#id_file")

    page.locator("#id_strategy").select_option("from-file")
    assert _visible(page, "#id_file") and not _visible(page, "#id_value") and not _visible(page, "#id_scope_mode_0")

    # The date-time strategy offers the native picker beside the typed field; a picked time is written
    # into the field in ISO 8601 with the zone it was picked in (Tokyo, +09:00).
    page.locator("#id_strategy").select_option("to-datetime")
    assert _visible(page, "#id_value") and _visible(page, "#id_value_picker")
    assert _hint_shown(page) == ["Date and time"]
    page.locator("#id_value_picker").fill("2026-11-21T09:30:15")
    assert page.locator("#id_value").input_value() == "2026-11-21T09:30:15+09:00"
    page.locator("#id_value_picker").fill("2026-11-21T09:30")
    assert page.locator("#id_value").input_value() == "2026-11-21T09:30:00+09:00"


def test_without_javascript_the_reset_form_shows_every_field_and_still_previews(
    chromium, live_server, live_cluster, empty_group, make_user
):
    topic, group = empty_group
    make_user("nils", "Operator", password=PASSWORD)
    page = _page(chromium, live_server, "nils", javascript=False)
    page.goto(f"{live_server.url}/clusters/local/reset/{group}/")
    for field in ("#id_strategy", "#id_value", "#id_file", "#id_scope_mode_0", "#id_scope"):
        assert _visible(page, field), field
    assert len(_hint_shown(page)) == 6  # every strategy's hint
    assert not _visible(page, "#id_value_picker")  # the picker needs the script; the field is typed

    page.locator("#id_strategy").select_option("shift-by")
    page.locator("#id_value").fill("-10")
    with page.expect_navigation():
        page.get_by_role("button", name="Preview").click()
    for partition, committed in COMMITTED.items():
        row = page.locator(f'#plan tr[data-tp="{topic}-{partition}"]')
        assert row.locator(".after").inner_text().strip() == str(committed - 10)

    # A mistake comes back on the page itself: by its field, and summarised above the form.
    page.locator("#id_strategy").select_option("to-offset")
    page.locator("#id_value").fill("ten")
    with page.expect_navigation():
        page.get_by_role("button", name="Preview").click()
    assert page.locator("#id_value_error").inner_text().startswith("The offset must be a whole number")
    assert "The offset must be a whole number" in page.locator("#error").inner_text()


def test_a_typed_iso_time_previews_and_mistakes_are_told_by_their_field_and_at_the_top(
    chromium, live_server, live_cluster, empty_group, make_user
):
    topic, group = empty_group
    make_user("tara", "Operator", password=PASSWORD)
    page = _page(chromium, live_server, "tara")
    page.goto(f"{live_server.url}/clusters/local/reset/{group}/")
    page.locator("#id_strategy").select_option("to-datetime")
    page.locator("#id_value").fill("2000-01-01T00:00:00Z")  # before every record: the log start, 0
    page.get_by_role("button", name="Preview").click()
    page.locator("#plan").wait_for()
    assert page.locator(f'#plan tr[data-tp="{topic}-0"] .after').inner_text().strip() == "0"

    # Two mistakes at once (htmx swaps the marked form in): each by its field, both in the summary.
    page.locator("#id_value").fill("yesterday")
    page.locator("#id_scope_mode_1").check()
    page.locator("#id_scope").fill(f"{topic}:x")
    page.get_by_role("button", name="Preview").click()
    page.locator("#id_value_error").wait_for()
    assert page.locator("#id_value_error").inner_text().startswith("Invalid date and time 'yesterday'")
    assert page.locator("#id_scope_error").inner_text().startswith("Invalid partition 'x'")
    summary = page.locator("#error")
    assert summary.locator("li").count() == 2
    assert summary.locator("a").evaluate_all("links => links.map(a => a.getAttribute('href'))") == [
        "#id_value",
        "#id_scope",
    ]
    assert page.locator("#id_value").get_attribute("aria-invalid") == "true"
    # The earlier preview is gone, so no plan stays confirmable beside a form that changed.
    assert page.locator("#plan").count() == 0 and page.locator("#confirm-form").count() == 0
    # The swapped-in form still fits the strategy chosen.
    assert _visible(page, "#id_value_picker") and _hint_shown(page) == ["Date and time"]

    # The session's CSRF cookie gone (signed out and in elsewhere): the preview's 403 page is shown, not nothing.
    page.context.clear_cookies(name="csrftoken")
    page.locator("#id_value").fill("2000-01-01T00:00:00Z")
    page.get_by_role("button", name="Preview").click()
    page.locator("#csrf-failed").wait_for()
    assert page.locator("h1").inner_text() == "That form had expired" and page.title() == "Form expired · Kafka console"


def test_the_delete_confirmation_refuses_a_mistyped_group_id(
    chromium, live_server, live_cluster, empty_group, make_user
):
    from groups.models import Operation

    _, group = empty_group
    make_user("ada", "Admin", password=PASSWORD)
    page = _page(chromium, live_server, "ada")
    page.goto(f"{live_server.url}/clusters/local/delete/{group}/")
    page.get_by_label("Reason (recorded in the audit log)").fill("service retired")
    page.locator("#id_confirm_group").fill(group[:-1])
    with page.expect_navigation():
        page.get_by_role("button", name="Delete group").click()
    assert page.locator("#id_confirm_group_error").inner_text() == (
        f"'{group[:-1]}' is not this group's id: type {group} exactly to delete it, or go back."
    )
    assert page.locator("#error a").get_attribute("href") == "#id_confirm_group"
    assert page.locator("#id_reason").input_value() == "service retired"  # what was typed stays
    assert not Operation.objects.exists()


def test_the_replay_form_shows_the_fields_of_its_range_and_filters_and_tells_a_bad_time_by_its_field(
    chromium, live_server, live_cluster, empty_group, make_user
):
    topic, _ = empty_group
    make_user("rita", "Operator", password=PASSWORD)
    page = _page(chromium, live_server, "rita")
    page.goto(f"{live_server.url}/clusters/local/replay/{topic}/")
    assert (
        _visible(page, "#id_offsets") and not _visible(page, "#id_time_from") and not _visible(page, "#id_partitions")
    )
    assert not _visible(page, "#id_key") and not _visible(page, "#id_header_name")

    page.get_by_label("By time window [from, to)").check()
    assert not _visible(page, "#id_offsets")
    for field in ("#id_time_from", "#id_time_from_picker", "#id_time_to", "#id_time_to_picker"):
        assert _visible(page, field), field
    page.locator("#id_key_filter").select_option("equals")
    page.locator("#id_header_filter").select_option("present")
    assert _visible(page, "#id_key") and _visible(page, "#id_header_name") and not _visible(page, "#id_header_value")

    page.locator("#id_time_from").fill("nine o'clock")
    page.locator("#id_time_to").fill("2026-11-21T10:00:00Z")
    page.locator("#id_key").fill("order-1")
    page.locator("#id_header_name").fill("trace")
    page.locator("#id_target_topic").select_option(topic)
    page.get_by_role("button", name="Preview").click()
    page.locator("#id_time_from_error").wait_for()
    assert "nine o'clock" in page.locator("#id_time_from_error").inner_text()
    assert page.locator("#error a").get_attribute("href") == "#id_time_from"
    # The form came back as it was chosen: the time window, not the offsets.
    assert _visible(page, "#id_time_from") and not _visible(page, "#id_offsets")


def _token_time(page):
    return page.locator("#token-state time").first


def test_times_show_in_the_browser_s_zone_with_utc_on_hover_and_in_utc_for_who_prefers_it(
    chromium, live_server, transactional_db, make_user
):
    from groups.models import ApiToken

    user = make_user("kei", "Admin", password=PASSWORD)
    ApiToken.issue(user)
    ApiToken.objects.filter(user=user).update(created=TOKEN_CREATED)
    utc_text = "2026-03-14 23:30:05 UTC"
    in_tokyo = (TOKEN_CREATED + TOKYO).strftime("%Y-%m-%d %H:%M:%S")  # the next day, 08:30:05

    page = _page(chromium, live_server, "kei", timezone_id="Asia/Tokyo")
    page.goto(f"{live_server.url}/account/token/")
    shown = _token_time(page)
    assert shown.inner_text() == f"{in_tokyo} GMT+9"
    assert shown.get_attribute("title") == utc_text
    assert shown.get_attribute("datetime") == "2026-03-14T23:30:05.000Z"

    # Where recency matters it says how long ago, kept current, with both times on hover.
    page.goto(f"{live_server.url}/audit/?signins=1")  # its own sign-in, a moment ago
    sign_in_time = page.locator("time[data-when=ago]").first
    assert re.fullmatch(r"just now|\d+ s ago|\d+ min ago", sign_in_time.inner_text()), sign_in_time.inner_text()
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d GMT\+9 \(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)",
        sign_in_time.get_attribute("title"),
    )

    # The preference for UTC, set on the preferences page, shows UTC in the same Tokyo browser.
    page.locator("#preferences-link").click()
    page.get_by_label("In UTC").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Save").click()
    assert page.locator("#preferences-saved").is_visible()
    page.goto(f"{live_server.url}/account/token/")
    assert _token_time(page).inner_text() == utc_text

    # Without JavaScript the page says UTC, whatever the browser's zone.
    bare = _page(chromium, live_server, "kei", javascript=False, timezone_id="Asia/Tokyo")
    bare.goto(f"{live_server.url}/account/token/")
    assert _token_time(bare).inner_text() == utc_text
