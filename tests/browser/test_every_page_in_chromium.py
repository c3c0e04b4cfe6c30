"""Every page of the console, as every role, in Chromium against the live server and a real broker:
no serious or critical axe-core finding, no console error, no failed request, and the status the
role's grants call for (a refusal where the role lacks the action, the page where it has it). The
refusal is one page whatever was refused: each role sees one in Chromium, the rest by status. axe
runs as the viewer and as the admin (see AXE_ROLES).

The pages come from the URL conf itself: a new route fails `test_every_route_is_either_visited_or_
said_why_not` until it gets an example here (or a reason it is not a page), so none is forgotten.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from groups.kafka.streams import StreamsGroupNotFound, describe_streams_group
from groups.models import ROLES, AlertEpisode, AlertRule, AuditEvent, Cluster, Operation
from groups.operations import resets
from groups.snapshot.collector import COLLECTED, collect
from groups.templatetags.console import SEVERITY
from tests import kafkatools as kt
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.browser.page_checks import background_luminance, visit
from tests.streamsapp import WordCount

pytestmark = pytest.mark.browser

CLUSTER = "local"


@dataclass(frozen=True)
class Seeded:
    """The real things the pages are about: made on the broker (and one request, one rule) by `seeded`."""

    topic: str
    group: str
    share_group: str
    streams_group: str
    operation: int
    rule: int
    event: int


@dataclass(frozen=True)
class Page:
    """How to reach a route with real arguments, and the action a role needs to be shown it (None: any
    signed-in user)."""

    urls: Callable[[Seeded], list[str]]
    action: str | None = "view"


def _group_url(name: str) -> Callable[[Seeded], list[str]]:
    return lambda s: [reverse(name, args=[CLUSTER, s.group])]


def _topic_url(name: str) -> Callable[[Seeded], list[str]]:
    return lambda s: [reverse(name, args=[CLUSTER, s.topic])]


def _cluster_url(name: str, *queries: str) -> Callable[[Seeded], list[str]]:
    return lambda s: [reverse(name, args=[CLUSTER]) + query.format(s=s) for query in queries or ("",)]


PAGES: dict[str, Page] = {
    "password_change": Page(lambda s: [reverse("password_change")], None),
    "password_change_done": Page(lambda s: [reverse("password_change_done")], None),
    "api_token": Page(lambda s: [reverse("api_token")], None),
    "cluster_list": Page(lambda s: [reverse("cluster_list")], None),
    "cluster_overview": Page(_cluster_url("cluster_overview")),
    # The shared broker holds many groups by now: search for ours, and sort so a header shows its direction.
    "group_list": Page(_cluster_url("group_list", "?q={s.group}", "?q={s.group}&sort=-lag")),
    "group_page": Page(_group_url("group_page")),
    "topic_list": Page(_cluster_url("topic_list", "?q={s.topic}")),
    "topic_page": Page(_topic_url("topic_page")),
    "share_group_list": Page(_cluster_url("share_group_list", "?q={s.share_group}")),
    "share_group_page": Page(lambda s: [reverse("share_group_page", args=[CLUSTER, s.share_group])]),
    "share_group_delete": Page(lambda s: [reverse("share_group_delete", args=[CLUSTER, s.share_group])], "delete"),
    "streams_group_page": Page(lambda s: [reverse("streams_group_page", args=[CLUSTER, s.streams_group])]),
    "preferences": Page(lambda s: [reverse("preferences")], None),
    "topic_records": Page(
        lambda s: [
            reverse("topic_records", args=[CLUSTER, s.topic]),
            reverse("topic_records", args=[CLUSTER, s.topic]) + "?partition=0&seek=start&count=20",
        ],
        "read_records",
    ),
    "reset_form": Page(_group_url("reset_form"), "reset"),
    "delete_group": Page(_group_url("delete_group"), "delete"),
    "delete_offsets": Page(_group_url("delete_offsets"), "delete"),
    "share_reset_form": Page(lambda s: [reverse("share_reset_form", args=[CLUSTER, s.share_group])], "reset"),
    "replay_action": Page(_topic_url("replay_action")),
    "replay_form": Page(_topic_url("replay_form"), "replay"),
    "operation_page": Page(lambda s: [reverse("operation_page", args=[s.operation])]),
    "approval_list": Page(lambda s: [reverse("approval_list")], "approve"),
    "my_requests": Page(lambda s: [reverse("my_requests")], None),
    "audit_list": Page(lambda s: [reverse("audit_list")], "audit"),
    "audit_event": Page(lambda s: [reverse("audit_event", args=[s.event])], "audit"),
    "alert_list": Page(lambda s: [reverse("alert_list")], None),
    "alert_rules": Page(lambda s: [reverse("alert_rules")]),  # read-only for viewers
    "alert_rule_new": Page(lambda s: [reverse("alert_rule_new")], "alert"),
    "alert_rule_edit": Page(lambda s: [reverse("alert_rule_edit", args=[s.rule])], "alert"),
    "alert_rule_delete_confirm": Page(lambda s: [reverse("alert_rule_delete_confirm", args=[s.rule])], "alert"),
}
# Routes visited signed out: the sign-in page is where every role starts.
SIGNED_OUT_PAGES = {"login": lambda s: [reverse("login")]}

_POST = "answers a form's POST (its result is a redirect or a fragment of a page visited here)"
_DATA = "data, not a page (JSON, CSV or Prometheus text)"
NOT_PAGES: dict[str, str] = {
    "logout": "signs out on POST",
    "admin/login/": "redirects to the console's sign-in page",
    "admin/logout/": "signs out",
    "admin": "Django's own admin site, with its own markup",
    "healthz": "the load balancer's probe: a line of JSON, no page",
    "readyz": "the load balancer's probe: a line of JSON, no page",
    "api": "the JSON API (its Swagger UI page is the vendored library's markup; test_api_errors_and_auth "
    "proves it loads nothing from elsewhere)",
    **{
        name: _POST
        for name in (
            "reset_preview",
            "reset_confirm",
            "delete_offsets_preview",
            "delete_offsets_confirm",
            "share_reset_preview",
            "share_reset_confirm",
            "replay_preview",
            "replay_confirm",
            "approve_operation",
            "reject_operation",
            "cancel_operation",
            "cancel_replay",
            "alert_rule_create",
            "alert_rule_save",
            "alert_rule_delete",
        )
    },
    **{
        name: _DATA
        for name in (
            "metrics",
            "audit_export_csv",
            "audit_export_json",
        )
    },
}


def _routes(patterns, prefix: str = "") -> set[str]:
    """Every route's name (its path when it has none); a namespaced include by its namespace."""
    found = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace:
                found.add(pattern.namespace)
            else:
                found |= _routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            found.add(pattern.name or prefix + str(pattern.pattern))
    return found


def test_every_route_is_either_visited_or_said_why_not():
    routes = _routes(get_resolver().url_patterns)
    listed = set(PAGES) | set(SIGNED_OUT_PAGES) | set(NOT_PAGES)
    assert routes - listed == set(), "new routes: add an example to PAGES (or a reason to NOT_PAGES)"
    assert listed - routes == set(), "routes that no longer exist"


BROKEN_PAGE = """<!doctype html><html><head></head><body>
<img src="/no-such-image.png"><input type="text">
<script>console.error("broken on purpose")</script>
<script src="/aborted.js"></script>
</body></html>"""


def test_the_page_checks_catch_what_they_look_for(chromium, live_server):
    """The checks themselves can fail: a page with every fault they look for is reported for each."""
    context = chromium.new_context()
    url = f"{live_server.url}/broken-on-purpose/"
    context.route(url, lambda route: route.fulfill(status=200, content_type="text/html", body=BROKEN_PAGE))
    context.route(f"{live_server.url}/aborted.js", lambda route: route.abort())
    seen = visit(context, url, expected_status=200)
    context.close()
    assert {v["id"] for v in seen.violations} >= {"html-has-lang", "document-title", "image-alt", "label"}
    assert any("broken on purpose" in text for text in seen.console_errors)
    assert any("/aborted.js" in text for text in seen.failed_requests)
    assert any(text.startswith("404 GET") and "/no-such-image.png" in text for text in seen.bad_responses)
    assert seen.problems(403)[0] == "status 200, expected 403"


@pytest.fixture
def seeded(live_cluster, kafka_bootstrap, unique, make_user, use_test_redis) -> Seeded:
    """A lagging group on a 3-partition topic, a share group that read part of it, a streams group whose
    application read it and stopped, a reset awaiting approval (the cluster asks for four eyes, so
    nothing runs it), an alert rule, and a snapshot."""
    b = kafka_bootstrap
    topic, group, share_group = unique("a11y-orders"), unique("a11y-group"), unique("a11y-share")
    streams_group = unique("a11y-streams")
    kt.create_topic(b, topic, 3)
    kt.produce(b, topic, {0: 40, 1: 25, 2: 5})
    kt.commit(b, group, {(topic, 0): 10, (topic, 1): 25, (topic, 2): 1})
    kt.start_share_group_at_earliest(b, share_group)
    member = kt.ShareMember(b, share_group, [topic], client_id="a11y-share-reader")
    try:
        kt.wait_for(lambda: member.received == 70, timeout=60, what="the share group to read every record")
    finally:
        member.stop()
    counts = unique("a11y-counts")
    kt.create_topic(b, counts, 1)
    app = WordCount(b, streams_group, topic, counts)
    try:
        kt.wait_for(
            lambda: _streams_group_stable(b, streams_group),
            timeout=120,
            what="the word-count application to form its streams group",
        )
    finally:
        app.stop()
    live_cluster.require_approval = True
    live_cluster.save()
    requester = make_user("a11y-requester", "Operator")
    plan = [
        {"topic": topic, "partition": 0, "before": 10, "after": 0, "log_start": 0, "log_end": 40}
        | {"clamped": None, "note": None}
    ]
    operation = resets.request_operation(
        cluster=live_cluster,
        group_id=group,
        kind=Operation.Kind.RESET,
        plan=plan,
        reason="read the morning's orders again",
        actor=requester.get_username(),
        requester=requester,
        strategy="to-earliest",
    )
    rule = AlertRule.objects.create(name="a11y stalls", group_pattern="*", statuses=["STALL"], emails=["a@example.com"])
    # One alert that ended, muted by the reset, so the alerts page shows its table of ended alerts.
    ended = timezone.now()
    AlertEpisode.objects.create(
        rule=rule,
        rule_name=rule.name,
        cluster=live_cluster,
        group_id=group,
        pending_since=ended - timedelta(minutes=20),
        firing_since=ended - timedelta(minutes=15),
        resolved_at=ended,
        summary="status ERR with partition orders:0 STALL, one of STALL",
        facts={"status": "OK", "lag": 0, "lag_seconds": 0.0, "members": 1},
        notifications=2,
        muted=True,
        muted_by=operation,
    )
    assert collect(live_cluster).outcome == COLLECTED
    event = AuditEvent.objects.filter(operation=operation).latest("pk")
    return Seeded(topic, group, share_group, streams_group, operation.pk, rule.pk, event.pk)


def _streams_group_stable(bootstrap: str, group: str) -> bool:
    try:
        return describe_streams_group({"bootstrap.servers": bootstrap}, 10, group).state == "Stable"
    except StreamsGroupNotFound:
        return False


@pytest.fixture(scope="module")
def chromium():
    """One browser for the module; each role gets its own context (its own cookies)."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is not installed: run `make test` to install it.", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _signed_in_context(chromium, live_server, user, **options):
    """A browser context carrying `user`'s session (made by Django's test client, as signing in would)."""
    client = Client()
    client.force_login(user)
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, **options)
    context.set_default_timeout(20_000)
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])
    return context


# axe runs on every page as the role with the fewest controls and the one with the most: the others'
# pages hold a subset of the admin's controls in the same templates (a third of the run's time is axe).
AXE_ROLES = ("Viewer", "Admin")


def _expected_status(role: str, action: str | None) -> int:
    return 200 if action is None or action in ROLES[role] else 403


@pytest.mark.timeout(600)
def test_every_page_as_every_role_passes_axe_and_loads_cleanly(chromium, live_server, seeded, make_user):
    problems: list[str] = []
    visits = 0
    phases: dict[str, float] = {}
    started = time.monotonic()
    signed_out = chromium.new_context()
    for name, urls in SIGNED_OUT_PAGES.items():
        for url in urls(seeded):
            visits += 1
            seen = visit(signed_out, live_server.url + url, expected_status=200)
            problems += [f"signed out, {name} {url}: {p}" for p in seen.problems(200)]
    signed_out.close()
    checked = 0
    assert set(AXE_ROLES) <= set(ROLES), "a role axe runs as no longer exists"
    for role in ROLES:
        user = make_user(f"a11y-{role.lower()}", role)
        context = _signed_in_context(chromium, live_server, user)
        client = Client()
        client.force_login(user)
        refusal_seen = False
        for name, page in PAGES.items():
            expected = _expected_status(role, page.action)
            for url in page.urls(seeded):
                if expected == 403 and refusal_seen:
                    # Every refusal is the same page: Chromium and axe see one per role; the others'
                    # statuses are checked here, cheaply (test_access_control walks them all too).
                    checked += 1
                    status = client.get(url).status_code
                    if status != 403:
                        problems.append(f"{role}, {name} {url}: answered {status}, not the refusal (403)")
                    continue
                refusal_seen = refusal_seen or expected == 403
                visits += 1
                seen = visit(context, live_server.url + url, expected_status=expected, axe=role in AXE_ROLES)
                for phase, seconds in seen.seconds.items():
                    phases[phase] = phases.get(phase, 0) + seconds
                problems += [f"{role}, {name} {url}: {p}" for p in seen.problems(expected)]
        context.close()
    elapsed = time.monotonic() - started
    spent = ", ".join(f"{phase} {seconds:.0f} s" for phase, seconds in phases.items())
    print(
        f"{visits} page visits in Chromium (every page as {len(ROLES)} roles and signed out, one refusal per "
        f"role; axe as {' and '.join(AXE_ROLES)}) and {checked} further refusals by status, in {elapsed:.0f} s "
        f"({spent})"
    )
    assert checked, "no refusal was checked by status: the roles' grants no longer refuse anything"
    if problems:
        pytest.fail(f"{len(problems)} problems:\n" + "\n".join(problems), pytrace=False)


@pytest.mark.timeout(300)
def test_the_dark_theme_follows_the_system_and_keeps_its_contrast(chromium, live_server, seeded, make_user):
    admin = make_user("a11y-dark-admin", "Admin")
    light = _signed_in_context(chromium, live_server, admin, color_scheme="light")
    dark = _signed_in_context(chromium, live_server, admin, color_scheme="dark")
    home = live_server.url + reverse("cluster_list")
    assert background_luminance(light, home) > 0.8
    assert background_luminance(dark, home) < 0.05
    problems = []
    for name in ("cluster_overview", "group_list", "group_page", "topic_page", "operation_page", "audit_list"):
        for url in PAGES[name].urls(seeded):
            seen = visit(dark, live_server.url + url, expected_status=200, rules=["color-contrast"])
            problems += [f"{name} {url}: {p}" for p in seen.problems(200)]
    light.close()
    dark.close()
    if problems:
        pytest.fail(f"{len(problems)} problems:\n" + "\n".join(problems), pytrace=False)


@pytest.mark.timeout(300)
def test_copy_buttons_slash_to_search_the_cluster_switcher_and_breadcrumbs(chromium, live_server, seeded, make_user):
    Cluster.objects.create(name="other", bootstrap_servers=Cluster.objects.get(name=CLUSTER).bootstrap_servers)
    context = _signed_in_context(chromium, live_server, make_user("a11y-glance", "Operator"))
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = context.new_page()

    # "/" focuses the search box; typed inside a field it is just a character.
    page.goto(live_server.url + reverse("group_list", args=[CLUSTER]) + f"?q={seeded.group}")
    page.locator("body").click(position={"x": 5, "y": 300})
    page.keyboard.press("/")
    search = page.locator("input[type=search]")
    assert page.evaluate("document.activeElement === document.querySelector('input[type=search]')")
    assert search.get_attribute("aria-keyshortcuts") == "/"

    # Status and lag carry their severity as a class beside the status's own word.
    row = page.locator(f'#groups tr[data-group="{seeded.group}"]')
    badge = row.locator(".badge.lag-status")
    status = badge.inner_text().strip()
    assert status and f"sev-{SEVERITY[status]}" in badge.get_attribute("class")

    # The sorted column says so to the eye (an arrow) and to a screen reader (aria-sort); the others say nothing.
    page.goto(live_server.url + reverse("group_list", args=[CLUSTER]) + f"?q={seeded.group}&sort=-lag")
    sorted_header = page.locator("#groups th[aria-sort]")
    assert sorted_header.count() == 1 and sorted_header.get_attribute("aria-sort") == "descending"
    assert sorted_header.inner_text().split() == ["Lag", "▼"]
    row = page.locator(f'#groups tr[data-group="{seeded.group}"]')

    # A copy button beside the group id puts the id on the clipboard, and its word stays out of the cell's text.
    button = row.get_by_role("button", name=f"Copy group id {seeded.group}")
    button.click()
    assert page.evaluate("navigator.clipboard.readText()") == seeded.group
    assert button.get_attribute("data-state") == "copied"
    assert row.locator("td").first.inner_text().strip() == seeded.group

    # The switcher lists the clusters and keeps the page: the group list of the other cluster.
    switcher = page.locator("#cluster-switcher")
    assert switcher.locator("summary").inner_text().strip() == f"Cluster {CLUSTER}"
    switcher.locator("summary").click()
    page.keyboard.press("Escape")  # closes it as a menu would
    assert switcher.get_attribute("open") is None
    switcher.locator("summary").click()
    assert switcher.get_by_role("link", name=CLUSTER).get_attribute("aria-current") == "page"
    with page.expect_navigation():
        switcher.get_by_role("link", name="other").click()
    assert page.url == live_server.url + reverse("group_list", args=["other"])

    # The group page's breadcrumbs name the cluster and the group; its member ids and offsets copy too.
    page.goto(live_server.url + reverse("group_page", args=[CLUSTER, seeded.group]))
    crumbs = page.get_by_role("navigation", name="Breadcrumb")
    assert " ".join(crumbs.inner_text().split()) == f"Clusters / {CLUSTER} / {seeded.group}"
    committed = page.locator(f'#partitions tr[data-tp="{seeded.topic}-0"] .committed')
    committed.get_by_role("button", name=f"Copy committed offset of {seeded.topic}:0 10").click()
    assert page.evaluate("navigator.clipboard.readText()") == "10"
    page.get_by_role("button", name=f"Copy group id {seeded.group}").click()
    assert page.evaluate("navigator.clipboard.readText()") == seeded.group

    # The page names its icon: no request for /favicon.ico.
    # Served as in production: the static file's name carries its content hash.
    assert re.search(r"/favicon\.[0-9a-f]{12}\.svg$", page.locator('link[rel="icon"]').get_attribute("href"))
    context.close()
