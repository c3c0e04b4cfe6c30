"""The reset, delete and operation pages, driven through the Django test client against the real broker."""

import html
import re
import time

import kombu.exceptions
import pytest
from django.core import signing
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from groups import tasks
from groups.kafka import TP, client_for
from groups.models import AuditEvent, Cluster, Operation
from groups.operations import resets
from localkafka.broker import run_tool
from tests import kafkatools as kt

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def operator(client, make_user):
    """These pages are used by an Operator of every cluster, unless a test signs in someone else."""
    user = make_user("operator", "Operator")
    client.force_login(user)
    return user


@pytest.fixture
def admin(client, make_user):
    """Deleting a group takes the Admin role."""
    user = make_user("admin", "Admin")
    client.force_login(user)
    return user


@pytest.fixture
def lagging_group(kafka_bootstrap, unique):
    """Two partitions; partition 1's log starts at 5, as after retention."""
    topic, group = unique("pages"), unique("pages-group")
    kt.create_topic(kafka_bootstrap, topic, 2)
    kt.produce(kafka_bootstrap, topic, {0: 50, 1: 40})
    kt.delete_records(kafka_bootstrap, topic, 1, 5)
    kt.commit(kafka_bootstrap, group, {(topic, 0): 30, (topic, 1): 38})
    return topic, group


@pytest.fixture
def active_member(kafka_bootstrap, lagging_group):
    topic, group = lagging_group
    member = kt.Member(kafka_bootstrap, group, [topic], client_id="pages-live-app")
    member.wait_assigned()
    yield member
    member.stop()


def _committed(cluster, group):
    return client_for(cluster).committed_offsets([group])[group]


def _preview(client, group, strategy, value="", scope="", **headers):
    data = {"strategy": strategy, "value": value, "scope_mode": "topics" if scope else "all", "scope": scope}
    return client.post(reverse("reset_preview", args=["local", group]), data, **headers)


def _token(response) -> str:
    match = re.search(r'name="token" value="([^"]+)"', response.content.decode())
    assert match, "the page offers no confirm form"
    return match.group(1)


def _confirm(client, group, token, reason="replay after the bug fix"):
    return client.post(reverse("reset_confirm", args=["local", group]), {"token": token, "reason": reason})


def _row(body: str, topic: str, partition: int) -> str:
    match = re.search(rf'<tr data-tp="{re.escape(topic)}-{partition}">(.*?)</tr>', body, re.S)
    assert match, f"no row for {topic}-{partition}"
    return match.group(1)


def _final_status_area(client, url: str) -> str:
    """Poll the status area as htmx does until it stops asking to be polled."""

    def final():
        body = client.get(url, HTTP_HX_REQUEST="true").content.decode()
        return None if "hx-trigger=" in body else body

    return kt.wait_for(final, timeout=60, interval=0.5, what=f"{url} to show a final status")


def test_the_form_offers_every_strategy_both_scopes_and_a_file_upload(client, cluster):
    response = client.get(reverse("reset_form", args=["local", "any/group"]))
    assert response.status_code == 200
    body = response.content.decode()
    for kind, label in resets.STRATEGIES.items():
        assert f'<option value="{kind}">{html.escape(label)}</option>' in body
    assert 'value="all"' in body and 'value="topics"' in body and 'name="scope"' in body
    assert 'enctype="multipart/form-data"' in body and 'hx-encoding="multipart/form-data"' in body
    assert 'type="file" name="file"' in body
    assert "2026-11-21T09:00:00.000" in body and "PT15M" in body


def test_a_to_earliest_preview_shows_before_and_after_per_partition_and_writes_nothing(client, cluster, lagging_group):
    topic, group = lagging_group
    response = _preview(client, group, "to-earliest")
    assert response.status_code == 200
    body = response.content.decode()
    first, second = _row(body, topic, 0), _row(body, topic, 1)
    assert '<td class="num before">30</td>' in first and '<td class="num after">0</td>' in first
    assert "re-consume 30" in first
    assert '<td class="num before">38</td>' in second and '<td class="num after">5</td>' in second
    assert "re-consume 33" in second
    assert "re-consume 63 · skip 0" in body
    assert 'id="confirm-form"' in body
    assert _committed(cluster, group) == {TP(topic, 0): 30, TP(topic, 1): 38}
    # The only event is the audited read of the first record each partition would read after the reset.
    assert not Operation.objects.exists() and not AuditEvent.objects.exclude(action="read_records").exists()


def test_with_htmx_the_preview_and_its_errors_come_back_as_the_fragment_alone(client, cluster, lagging_group):
    topic, group = lagging_group
    preview = _preview(client, group, "shift-by", "-10", HTTP_HX_REQUEST="true")
    assert preview.status_code == 200
    body = preview.content.decode()
    assert body.lstrip().startswith('<div id="preview">') and "<html" not in body
    assert '<td class="num after">20</td>' in _row(body, topic, 0)
    # What only Kafka can tell (a topic that does not exist) comes back as the preview fragment.
    missing = _preview(client, group, "to-earliest", "", f"{topic}-missing", HTTP_HX_REQUEST="true")
    assert missing.status_code == 200
    assert missing.content.decode().lstrip().startswith('<div id="preview">')
    assert f"{topic}-missing" in missing.content.decode()


def test_with_htmx_a_mistyped_value_brings_the_form_back_marked_and_empties_the_old_preview(
    client, cluster, lagging_group
):
    _, group = lagging_group
    error = _preview(client, group, "to-offset", "abc", HTTP_HX_REQUEST="true")
    assert error.status_code == 200  # htmx swaps no 4xx answer in
    # The error belongs by its field, so htmx is told to swap the marked form in place of the one sent.
    assert error.headers["HX-Retarget"] == "#reset-entry" and error.headers["HX-Reselect"] == "#reset-entry"
    assert error.headers["HX-Reswap"] == "outerHTML"
    body = html.unescape(error.content.decode())
    start = body.index('<div id="reset-entry">')
    entry = body[start : body.index("</form>", start)]
    assert '<div class="field-error" id="id_value_error">The offset must be a whole number' in entry
    assert entry.index('id="error"') < entry.index('id="reset-form"')  # summarised above the form
    assert 'aria-invalid="true"' in entry and 'name="value" value="abc"' in entry
    assert '<div id="preview" hx-swap-oob="true">' in body  # a preview left from before is emptied
    assert not Operation.objects.exists()


def test_a_datetime_without_a_zone_is_previewed_as_utc_and_says_so(client, cluster, lagging_group):
    topic, group = lagging_group
    response = _preview(client, group, "to-datetime", "2001-01-01T00:00:00.000")
    assert response.status_code == 200
    assert 'id="zone-assumed"' in response.content.decode()
    with_zone = _preview(client, group, "to-datetime", "2001-01-01T00:00:00.000Z")
    assert 'id="zone-assumed"' not in with_zone.content.decode()


def test_an_active_group_preview_shows_the_blocking_alert_first_and_no_working_confirm(
    client, cluster, lagging_group, active_member
):
    topic, group = lagging_group
    response = _preview(client, group, "to-earliest")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="blocked"' in body and "pages-live-app" in body
    assert body.index('id="blocked"') < body.index('id="plan"')
    assert 'id="confirm-form"' not in body and 'name="token"' not in body
    assert '<button type="button" disabled>' in body


@pytest.mark.parametrize(
    "strategy, value, scope, message",
    [
        ("to-offset", "abc", "", "The offset must be a whole number"),
        ("to-datetime", "yesterday", "", "Invalid date and time &#x27;yesterday&#x27;"),
        ("to-earliest", "", "nosuchtopic", "Topic &#x27;nosuchtopic-"),
        ("to-earliest", "", "{topic}:99", "The partition {topic}-99 does not exist; {topic} has partitions 0 to 1"),
    ],
)
def test_malformed_input_is_a_400_with_the_reason_keeps_the_input_and_changes_nothing(
    client, cluster, lagging_group, unique, strategy, value, scope, message
):
    topic, group = lagging_group
    scope = unique(scope) if scope == "nosuchtopic" else scope.format(topic=topic)
    response = _preview(client, group, strategy, value, scope)
    assert response.status_code == 400
    body = response.content.decode()
    assert message.format(topic=topic) in body
    assert 'id="error"' in body and body.index('id="error"') < body.index('id="reset-form"')
    if value:
        assert f'name="value" value="{value}"' in body
    if scope:
        assert f'value="{scope}"' in body
    assert _committed(cluster, group) == {TP(topic, 0): 30, TP(topic, 1): 38}
    assert not Operation.objects.exists()


def test_user_input_is_escaped_in_messages(client, cluster, lagging_group):
    _, group = lagging_group
    response = _preview(client, group, "to-offset", "<b>1</b>")
    assert response.status_code == 400
    assert b"<b>1</b>" not in response.content and b"&lt;b&gt;1&lt;/b&gt;" in response.content


def test_an_unreachable_cluster_gives_the_form_back_with_kafka_s_message(client, db, settings):
    settings.KAFKA_REQUEST_TIMEOUT = 1.5
    Cluster.objects.create(name="local", bootstrap_servers="127.0.0.1:1")
    response = _preview(client, "g", "to-earliest")
    assert response.status_code == 503
    body = response.content.decode()
    assert "127.0.0.1:1" in body and "did not answer" in body and 'id="reset-form"' in body


def test_unknown_cluster_and_unknown_operation_are_404_pages(client, db):
    assert client.get(reverse("reset_form", args=["nope", "g"])).status_code == 404
    assert client.get(reverse("delete_group", args=["nope", "g"])).status_code == 404
    response = client.get(reverse("operation_page", args=[424242]))
    assert response.status_code == 404 and b"#424242" in response.content


def test_confirm_without_a_reason_is_refused(client, cluster, lagging_group):
    topic, group = lagging_group
    token = _token(_preview(client, group, "to-earliest"))
    response = _confirm(client, group, token, reason="   ")
    assert response.status_code == 400
    body = response.content.decode()
    assert "a reason is required" in body
    assert _token(response) == token
    assert not Operation.objects.exists()


def test_a_tampered_token_is_refused(client, cluster, lagging_group):
    _, group = lagging_group
    token = _token(_preview(client, group, "to-earliest"))
    payload, _, signature = token.rpartition(":")
    tampered = f"{payload}x:{signature}"
    response = _confirm(client, group, tampered)
    assert response.status_code == 400
    assert b"The preview expired" in response.content and b"preview again" in response.content
    assert not Operation.objects.exists()


def test_a_token_for_another_group_is_refused(client, cluster, lagging_group, unique):
    _, group = lagging_group
    token = _token(_preview(client, group, "to-earliest"))
    response = _confirm(client, unique("other-group"), token)
    assert response.status_code == 400 and b"The preview expired" in response.content
    assert not Operation.objects.exists()


def test_an_expired_token_is_refused(client, cluster, lagging_group, monkeypatch):
    _, group = lagging_group
    # Sign as if the preview had been shown 15 minutes and a second ago.
    monkeypatch.setattr(signing.TimestampSigner, "timestamp", lambda self: signing.b62_encode(int(time.time()) - 901))
    token = _token(_preview(client, group, "to-earliest"))
    monkeypatch.undo()
    response = _confirm(client, group, token)
    assert response.status_code == 400 and b"The preview expired" in response.content
    assert not Operation.objects.exists()


def test_a_reset_file_is_previewed_and_its_text_recorded_on_confirm(client, cluster, lagging_group):
    topic, group = lagging_group
    csv_text = f"{topic},0,12\n{topic},1,2\n"
    response = client.post(
        reverse("reset_preview", args=["local", group]),
        {
            "strategy": "from-file",
            "scope_mode": "all",
            "file": SimpleUploadedFile("reset.csv", csv_text.encode(), content_type="text/csv"),
        },
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert '<td class="num after">12</td>' in _row(body, topic, 0)
    assert '<td class="num after">5</td>' in _row(body, topic, 1) and "below the log start 5" in body
    assert _confirm(client, group, _token(response)).status_code == 302
    operation = Operation.objects.get()
    assert operation.strategy == "from-file" and operation.strategy_value == csv_text
    assert [(r["partition"], r["after"]) for r in operation.plan] == [(0, 12), (1, 5)]


def test_a_pending_operation_page_polls_and_a_final_one_does_not(client, cluster, unique):
    operation = resets.request_operation(
        cluster=cluster,
        group_id=unique("g"),
        kind=Operation.Kind.RESET,
        reason="test",
        actor="tester",
        plan=[
            {
                "topic": "t",
                "partition": 0,
                "before": 3,
                "after": 0,
                "log_start": 0,
                "log_end": 9,
                "clamped": None,
                "note": None,
            }
        ],
        dispatch=False,
    )
    url = reverse("operation_page", args=[operation.pk])
    pending = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger=\"every 2s [document.visibilityState === 'visible']\"" in pending
    assert "<html" not in pending and 'id="undo"' not in pending
    assert (
        client.get(reverse("reset_form", args=["local", operation.group_id]), {"undo": operation.pk}).status_code == 400
    )
    Operation.objects.filter(pk=operation.pk).update(status=Operation.Status.FAILED, error="<boom>")
    final = client.get(url).content.decode()
    assert "hx-trigger" not in final and 'http-equiv="refresh"' not in final
    assert 'id="operation-error">&lt;boom&gt;</div>' in final


def test_a_preview_confirmed_twice_requests_once_and_the_second_click_shows_the_first_operation(
    client, operator, cluster, lagging_group, django_capture_on_commit_callbacks
):
    _, group = lagging_group
    token = _token(_preview(client, group, "to-earliest"))
    with django_capture_on_commit_callbacks():
        first = _confirm(client, group, token)
        second = _confirm(client, group, token)
    operation = Operation.objects.get()
    assert first.status_code == second.status_code == 302
    assert first.url == second.url == reverse("operation_page", args=[operation.pk])


def test_preview_confirm_run_and_undo_through_the_pages(
    client, operator, celery_worker, cluster, lagging_group, kafka_bootstrap
):
    topic, group = lagging_group
    confirmed = _confirm(client, group, _token(_preview(client, group, "to-earliest")))
    assert confirmed.status_code == 302
    operation = Operation.objects.get()
    assert confirmed.url == reverse("operation_page", args=[operation.pk])
    assert client.get(confirmed.url).status_code == 200

    status = _final_status_area(client, confirmed.url)
    assert 'id="operation-status">Succeeded<' in status
    assert _committed(cluster, group) == {TP(topic, 0): 0, TP(topic, 1): 5}
    assert '<td class="num committed-after">0</td>' in _row(status, topic, 0) and "✓" in _row(status, topic, 0)
    assert '<td class="num committed-after">5</td>' in _row(status, topic, 1) and "✓" in _row(status, topic, 1)
    assert operation.requester == operator
    assert AuditEvent.objects.filter(operation=operation, action="requested", actor="operator").exists()

    undo_href = html.unescape(re.search(r'id="undo" href="([^"]+)"', status).group(1))
    kt.commit(kafka_bootstrap, group, {(topic, 0): 3, (topic, 1): 5})  # a consumer read 3 records since
    undo_preview = client.get(undo_href)
    assert undo_preview.status_code == 200
    assert '<td class="num after">30</td>' in _row(undo_preview.content.decode(), topic, 0)
    assert (
        f"Since operation #{operation.pk} set them, 1 partition moved ({topic}-0 0 → 3): something else "
        f"committed there. The undo overwrites those commits with the offsets #{operation.pk} found."
    ) in html.unescape(undo_preview.content.decode())
    undo_confirmed = _confirm(client, group, _token(undo_preview), reason="put it back")
    assert undo_confirmed.status_code == 302
    undo = Operation.objects.exclude(pk=operation.pk).get()
    assert undo.undo_of == operation
    assert 'id="operation-status">Succeeded<' in _final_status_area(client, undo_confirmed.url)
    assert _committed(cluster, group) == {TP(topic, 0): 30, TP(topic, 1): 38}
    assert f"operation #{undo.pk}" in client.get(confirmed.url).content.decode()


def test_deleting_an_empty_group_through_the_page_removes_it_and_kafkas_tool_or_the_consoles_undo_put_it_back(
    client, admin, celery_worker, cluster, lagging_group, kafka_bootstrap, tmp_path
):
    topic, group = lagging_group
    url = reverse("delete_group", args=["local", group])
    page = client.get(url)
    assert page.status_code == 200 and b'id="delete-form"' in page.content
    body = page.content.decode()
    # The offsets it deletes, with their lag: 30 of 50 and 38 of 40.
    assert '<td class="num before">30</td>' in _row(body, topic, 0) and '<td class="num lag">20</td>' in _row(
        body, topic, 0
    )
    assert '<td class="num before">38</td>' in _row(body, topic, 1) and "2 of 2 partitions hold an offset" in body
    assert client.post(url, {"reason": "", "confirm_group": group}).status_code == 400
    assert not Operation.objects.exists()
    response = client.post(url, {"reason": "service retired", "confirm_group": group})
    assert response.status_code == 302
    assert 'id="operation-status">Succeeded<' in _final_status_area(client, response.url)
    assert _committed(cluster, group) == {}
    assert group not in [g.group_id for g in client_for(cluster).list_groups()]
    operation = Operation.objects.get()
    assert [(r["topic"], r["partition"], r["before"]) for r in operation.plan] == [(topic, 0, 30), (topic, 1, 38)]
    assert AuditEvent.objects.filter(operation=operation, action="requested").get().plan == operation.plan

    # The operation page's reset file, given to Kafka's own tool, makes the group again with those offsets.
    restore = re.search(
        r'<details id="restore-file">.*?<pre>(.*?)</pre>', client.get(response.url).content.decode(), re.S
    )
    assert restore and html.unescape(restore[1]) == f"{topic},0,30\n{topic},1,38\n"
    (tmp_path / "offsets.csv").write_text(html.unescape(restore[1]))
    args = ["--group", group, "--reset-offsets", "--from-file", str(tmp_path / "offsets.csv"), "--execute"]
    assert run_tool("consumer-groups", args, kafka_bootstrap).returncode == 0
    assert _committed(cluster, group) == {TP(topic, 0): 30, TP(topic, 1): 38}

    # The console's undo does the same, but not over a group someone re-created (as the tool just did).
    undo_href = html.unescape(re.search(r'id="undo" href="([^"]+)"', client.get(response.url).content.decode())[1])
    refused = client.get(undo_href)
    assert refused.status_code == 400
    assert f"Group '{group}' exists again: since operation #{operation.pk} deleted it" in html.unescape(
        refused.content.decode()
    )
    assert 'name="token"' not in refused.content.decode() and Operation.objects.count() == 1
    assert run_tool("consumer-groups", ["--delete", "--group", group], kafka_bootstrap).returncode == 0
    assert _committed(cluster, group) == {}

    undo_preview = client.get(undo_href)
    assert undo_preview.status_code == 200
    body = html.unescape(undo_preview.content.decode())
    for partition, offset in ((0, 30), (1, 38)):
        row = _row(body, topic, partition)
        assert '<span class="muted">—</span>' in row and f'<td class="num after">{offset}</td>' in row
    assert f"Consumer group '{group}' does not exist on this cluster yet: applying this plan creates it." in body
    undo_confirmed = _confirm(client, group, _token(undo_preview), reason="the service is back")
    assert undo_confirmed.status_code == 302
    undo = Operation.objects.get(undo_of=operation)
    assert 'id="operation-status">Succeeded<' in _final_status_area(client, undo_confirmed.url)
    # Kafka's tool finds the group again, without members, with exactly the offsets it had.
    described = run_tool("consumer-groups", ["--describe", "--group", group], kafka_bootstrap)
    rows = sorted(tuple(line.split()[1:6]) for line in described.stdout.splitlines() if line.startswith(f"{group} "))
    assert rows == [(topic, "0", "30", "50", "20"), (topic, "1", "38", "40", "2")], described.stdout + described.stderr
    assert f"Consumer group '{group}' has no active members." in described.stderr
    assert list(AuditEvent.objects.filter(operation=undo).values_list("action", flat=True).order_by("id")) == [
        "undo_requested",
        "started",
        "succeeded",
    ]
    page = client.get(response.url).content.decode()
    assert 'id="undo"' not in page and f"operation #{undo.pk}</a>" in page
    again = client.get(undo_href)
    assert again.status_code == 400 and f"was already undone by operation #{undo.pk}" in again.content.decode()


@pytest.mark.parametrize("typed", ["", "{group}x", "{group} ", "{upper}"])
def test_deleting_a_group_needs_its_id_typed_exactly_and_a_mistyped_id_deletes_nothing(
    client, admin, cluster, lagging_group, typed
):
    topic, group = lagging_group
    url = reverse("delete_group", args=["local", group])
    assert 'name="confirm_group"' in client.get(url).content.decode()
    response = client.post(
        url, {"reason": "service retired", "confirm_group": typed.format(group=group, upper=group.upper())}
    )
    assert response.status_code == 400
    body = html.unescape(response.content.decode())
    assert f"type {group} exactly" in body or f"Type the group id, {group}, to confirm" in body
    assert body.index('id="error"') < body.index('id="delete-form"')  # summarised above the form
    assert 'id="id_confirm_group_error"' in body  # and told by the field
    assert not Operation.objects.exists()
    assert _committed(cluster, group) == {TP(topic, 0): 30, TP(topic, 1): 38}


def test_deleting_a_stable_group_is_refused_before_anything_is_requested(
    client, admin, cluster, lagging_group, active_member
):
    topic, group = lagging_group
    url = reverse("delete_group", args=["local", group])
    page = client.get(url).content.decode()
    assert 'id="blocked"' in page and "pages-live-app" in page and 'id="delete-form"' not in page
    response = client.post(url, {"reason": "service retired"})
    assert response.status_code == 409
    assert not Operation.objects.exists() and not AuditEvent.objects.exists()
    assert _committed(cluster, group) == {TP(topic, 0): 30, TP(topic, 1): 38}


def test_an_unreachable_task_queue_fails_the_operation_and_says_so_instead_of_a_500(
    client, transactional_db, cluster, lagging_group, monkeypatch
):
    topic, group = lagging_group

    def queue_down(*args, **kwargs):
        raise kombu.exceptions.OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.run_operation, "delay", queue_down)
    response = _confirm(client, group, _token(_preview(client, group, "to-earliest")))
    assert response.status_code == 302
    page = client.get(response.url).content.decode()
    assert 'id="operation-status">Failed<' in page and "The task queue could not be reached" in page
    assert "hx-trigger" not in page
    operation = Operation.objects.get()
    assert list(operation.events.order_by("id").values_list("action", flat=True)) == ["requested", "failed"]
    assert _committed(cluster, group) == {TP(topic, 0): 30, TP(topic, 1): 38}


def test_copying_from_a_group_the_user_may_not_see_is_refused_where_htmx_shows_it(
    client, cluster, make_user, kafka_bootstrap, lagging_group, unique
):
    topic, group = lagging_group
    hidden = unique("secret-group")
    kt.commit(kafka_bootstrap, hidden, {(topic, 0): 1})
    client.force_login(make_user("narrow", "Operator", pattern=f"{group[:5]}*"))
    swapped = _preview(client, group, "from-group", hidden, HTTP_HX_REQUEST="true")
    assert swapped.status_code == 200, "htmx only swaps 2xx answers in"
    assert f"You may not view group &#x27;{hidden}&#x27;" in swapped.content.decode()
    assert 'name="token"' not in swapped.content.decode()
    assert _preview(client, group, "from-group", hidden).status_code == 403
    assert AuditEvent.objects.filter(action="denied", group_id=hidden).count() == 2
    assert _committed(cluster, group) == {TP(topic, 0): 30, TP(topic, 1): 38}


def test_an_undo_link_with_a_non_ascii_digit_is_not_found_not_a_500(client, cluster, lagging_group):
    _, group = lagging_group
    assert client.get(reverse("reset_form", args=["local", group]), {"undo": "²"}).status_code == 404
