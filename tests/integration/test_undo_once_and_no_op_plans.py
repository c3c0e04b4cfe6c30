"""An operation is undone once, and a plan that changes nothing cannot be applied, on every request path:
the pages, the confirm endpoint given a genuine token, the domain call and the command line."""

import html
import io
import re

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from groups.kafka import TP, client_for
from groups.models import Operation
from groups.operations import lifecycle, resets
from groups.views.common import sign_preview
from groups.views.resets import TOKEN_SALT
from tests import kafkatools as kt

pytestmark = pytest.mark.integration


@pytest.fixture
def operator(client, make_user):
    user = make_user("operator", "Operator")
    client.force_login(user)
    return user


@pytest.fixture
def stopped_group(kafka_bootstrap, unique):
    """A group with a committed offset on every partition of its topic, and no members."""
    topic, group = unique("undo-once"), unique("undo-once-group")
    kt.create_topic(kafka_bootstrap, topic, 2)
    kt.produce(kafka_bootstrap, topic, {0: 40, 1: 40})
    kt.commit(kafka_bootstrap, group, {(topic, 0): 30, (topic, 1): 25})
    return topic, group


def _preview(client, group, strategy, value=""):
    data = {"strategy": strategy, "value": value, "scope_mode": "all", "scope": ""}
    return client.post(reverse("reset_preview", args=["local", group]), data)


def _token(response) -> str:
    match = re.search(r'name="token" value="([^"]+)"', response.content.decode())
    assert match, "the page offers no confirm form"
    return match.group(1)


def _confirm(client, group, token, reason="put it back"):
    return client.post(reverse("reset_confirm", args=["local", group]), {"token": token, "reason": reason})


def _final(client, url: str) -> str:
    def final():
        body = client.get(url, HTTP_HX_REQUEST="true").content.decode()
        return None if "hx-trigger=" in body else body

    return kt.wait_for(final, timeout=60, interval=0.5, what=f"{url} to show a final status")


def _plan(topic: str, before: list[int | None], after: list[int]) -> list[dict]:
    return [
        {
            "topic": topic,
            "partition": partition,
            "before": was,
            "after": to,
            "log_start": 0,
            "log_end": 40,
            "clamped": None,
            "note": None,
        }
        for partition, (was, to) in enumerate(zip(before, after, strict=True))
    ]


def test_an_undone_operation_offers_no_second_undo_and_names_who_undid_it(
    client, operator, celery_worker, cluster, stopped_group
):
    topic, group = stopped_group
    done = _confirm(client, group, _token(_preview(client, group, "to-earliest")), reason="reprocess")
    assert 'id="operation-status">Succeeded<' in _final(client, done.url)
    original = Operation.objects.get()

    undo_url = reverse("reset_form", args=["local", group]) + f"?undo={original.pk}"
    # Two tabs preview the same undo before either confirms.
    first_tab, second_tab = _token(client.get(undo_url)), _token(client.get(undo_url))
    undone = _confirm(client, group, first_tab)
    assert 'id="operation-status">Succeeded<' in _final(client, undone.url)
    undo = Operation.objects.get(undo_of=original)
    assert client_for(cluster).committed_offsets([group])[group] == {TP(topic, 0): 30, TP(topic, 1): 25}

    page = client.get(reverse("operation_page", args=[original.pk])).content.decode()
    assert 'id="undo"' not in page
    undone_note = re.search(r'<p id="undone">(.*?)</p>', page, re.S).group(1)
    assert f'href="{reverse("operation_page", args=[undo.pk])}"' in undone_note
    assert "operator" in undone_note and "Succeeded" in undone_note

    again = client.get(undo_url)
    assert again.status_code == 400
    body = html.unescape(again.content.decode())
    assert f"Operation #{original.pk} was already undone by operation #{undo.pk} (requested by operator" in body
    assert 'name="token"' not in body

    late = _confirm(client, group, second_tab)
    assert late.status_code == 409
    assert f"already undone by operation #{undo.pk}" in html.unescape(late.content.decode())
    assert Operation.objects.filter(undo_of=original).count() == 1


def test_a_preview_that_changes_nothing_says_so_and_offers_no_confirm(client, operator, cluster, stopped_group):
    _, group = stopped_group
    response = _preview(client, group, "to-current")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="nothing-to-change"' in body and "Nothing would change" in body
    assert 'id="confirm-form"' not in body and 'name="token"' not in body
    assert "Apply this plan" not in body


def test_the_confirm_endpoint_refuses_a_genuine_token_for_a_plan_that_changes_nothing(
    client, operator, cluster, stopped_group
):
    topic, group = stopped_group
    token = sign_preview(
        TOKEN_SALT,
        {
            "cluster": "local",
            "group": group,
            "strategy": "to-current",
            "value": "",
            "scope": "",
            "undo_of": None,
            "zone_assumed": False,
            "plan": _plan(topic, [30, 25], [30, 25]),
            "warnings": [],
        },
    )
    response = _confirm(client, group, token)
    assert response.status_code == 409
    assert "Nothing would change" in response.content.decode()
    assert not Operation.objects.exists()


def test_the_domain_refuses_a_plan_that_changes_nothing_and_a_second_undo(cluster, operator, stopped_group):
    topic, group = stopped_group
    common = {"cluster": cluster, "group_id": group, "kind": Operation.Kind.RESET, "reason": "r", "actor": "operator"}
    with pytest.raises(lifecycle.RequestRefused, match="Nothing would change"):
        resets.request_operation(**common, plan=_plan(topic, [30, 25], [30, 25]), dispatch=False)
    original = Operation.objects.create(
        **{k: v for k, v in common.items() if k != "actor"},
        plan=_plan(topic, [30, 25], [0, 0]),
        status=Operation.Status.SUCCEEDED,
    )
    first = resets.request_operation(
        **common, plan=_plan(topic, [0, 0], [30, 25]), undo_of=original, requester=operator, dispatch=False
    )
    with pytest.raises(lifecycle.RequestRefused, match=f"already undone by operation #{first.pk}"):
        resets.request_operation(**common, plan=_plan(topic, [0, 0], [30, 25]), undo_of=original, dispatch=False)


@pytest.mark.parametrize("status", [Operation.Status.FAILED, Operation.Status.CANCELLED])
def test_an_undo_that_failed_or_was_cancelled_leaves_the_operation_undoable(db, cluster, status):
    original = Operation.objects.create(
        kind=Operation.Kind.RESET,
        cluster=cluster,
        group_id="g",
        reason="r",
        status=Operation.Status.SUCCEEDED,
        plan=[{"topic": "t", "partition": 0, "before": 30, "after": 0}],  # an offset to put back
    )
    Operation.objects.create(
        kind=Operation.Kind.RESET, cluster=cluster, group_id="g", reason="r", undo_of=original, status=status
    )
    assert Operation.objects.get(pk=original.pk).can_be_undone
    Operation.objects.create(
        kind=Operation.Kind.RESET, cluster=cluster, group_id="g", reason="r", undo_of=original, status="pending"
    )
    assert not Operation.objects.get(pk=original.pk).can_be_undone


def test_the_command_line_refuses_to_execute_a_plan_that_changes_nothing(cluster, operator, stopped_group):
    topic, group = stopped_group
    arguments = ["--cluster", "local", "--group", group, "--as", "operator", "--all-topics", "--to-current"]
    with pytest.raises(CommandError, match="Nothing would change.*Nothing was written"):
        call_command("reset_offsets", *arguments, "--execute", "--reason", "refresh", stdout=io.StringIO())
    assert not Operation.objects.exists()
    assert client_for(cluster).committed_offsets([group])[group] == {TP(topic, 0): 30, TP(topic, 1): 25}
