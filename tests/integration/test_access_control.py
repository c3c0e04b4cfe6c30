"""Every URL of the console, walked by each kind of user against the real broker: allowed, refused
(with a recorded denial), or the group left out of a list; plus CSRF and escaping of hostile names."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core import signing
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import URLPattern, URLResolver, reverse
from django.utils import timezone

from groups import tasks
from groups.kafka import TP, client_for
from groups.models import AlertRule, AuditEvent, Grant, Operation
from groups.operations import replays as replay
from groups.operations import resets
from groups.snapshot.collector import COLLECTED, collect
from groups.urls import urlpatterns
from groups.views import offset_deletion as offset_deletion_pages
from groups.views import replays as replay_pages
from groups.views import resets as reset_pages
from groups.views.common import sign_preview
from tests import kafkatools as kt
from tests.databases import shared_database_url

pytestmark = [
    pytest.mark.integration,
    pytest.mark.engine_neutral(
        "the URL walk's statuses follow the grants' rules, whose queries test_access_rules runs on both engines"
    ),
]

BASE_DIR = Path(__file__).resolve().parents[2]

# username -> (role, pattern of the groups it applies to); every grant is on all clusters.
USERS = {
    "viewer": ("Viewer", "*"),
    "operator": ("Operator", "*"),
    "approver": ("Approver", "*"),
    "admin": ("Admin", "*"),
    "outsider": ("Operator", "other-*"),  # rights, but on groups named otherwise
    "nobody": None,  # signed in, no grant at all
}
READERS = {"viewer", "operator", "approver", "admin"}
RESETTERS = {"operator", "admin"}
# Replaying copies between topics, which group patterns cannot scope: a grant for some groups only
# (the outsider's) does not allow it.
REPLAYERS = {"operator", "admin"}
# Reading a topic's records follows the replay's rule: a viewer or approver reads none.
RECORD_READERS = {"operator", "admin"}
DELETERS = {"admin"}
APPROVERS = {"approver", "admin"}
AUDITORS = {"approver", "admin"}
# Managing alert rules: the outsider's grant allows it for groups named other-*, so the walk's rules,
# on the walk's group, are refused it; a new rule on other-* groups is allowed it.
ALERTERS = {"operator", "admin"}
REQUESTER = "operator"  # of the walk's operations awaiting approval


@dataclass(frozen=True)
class Walk:
    group: str
    topic: str
    target: str
    operation: Operation
    token: str
    replay_token: str
    replay: Operation  # pending, requested by REQUESTER
    api_replay: Operation  # another, which the API's step stops
    awaiting: dict[str, Operation]  # one per step that decides, so each step finds its own still awaiting
    deletion_token: str = ""  # an admin's preview of deleting the walk topic's offsets
    # Alert rules on the walk's group: one the steps edit, one they delete.
    alert_rules: dict[str, AlertRule] = field(default_factory=dict)

    @property
    def existing(self) -> set[int]:
        return {self.operation.pk, self.replay.pk, self.api_replay.pk} | {
            operation.pk for operation in self.awaiting.values()
        }


@dataclass(frozen=True)
class Step:
    """One request: who may make it; for lists, who gets the page without the group instead of a 403;
    what a refusal may say."""

    name: str
    method: str
    url: str
    data: dict
    may: set[str]
    listed_for: set[str] = frozenset()
    group_scoped: bool = True
    cluster_scoped: bool = True
    refusals: tuple[str, ...] = ("ask an admin for the",)
    # What a denial records as its group, when not the walk's group or none (a callable: per username).
    denied_group: object = None
    # The walk has no such thing (a share group named like its consumer group): who may ask gets past the
    # access check to "not found" or a refused form, never a 403; the share-group tests prove the pages.
    absent: bool = False
    # The page checks its own credentials (Prometheus' scrape token), not the session: every visitor,
    # signed in or not, is refused alike, with no grant denial recorded.
    own_access: bool = False

    @property
    def api(self) -> bool:
        return self.url.startswith("/api/")


def _steps(w: Walk) -> list[Step]:
    g, local = w.group, "local"
    preview = {"strategy": "to-earliest", "scope_mode": "all", "value": "", "scope": ""}
    replay_preview = _replay_form(w)
    everyone = set(USERS)
    return [
        Step("cluster_list", "get", reverse("cluster_list"), {}, everyone),
        Step(
            "cluster_overview",
            "get",
            reverse("cluster_overview", args=[local]),
            {},
            READERS | {"outsider"},
            group_scoped=False,
        ),
        Step(
            "topic_list",
            "get",
            reverse("topic_list", args=[local]),
            {"q": w.topic},
            READERS | {"outsider"},
            group_scoped=False,
        ),
        Step(
            "group_list",
            "get",
            reverse("group_list", args=[local]),
            {"q": g},
            READERS | {"outsider"},
            listed_for=READERS,
            group_scoped=False,
        ),
        Step("group_page", "get", reverse("group_page", args=[local, g]), {}, READERS),
        Step(
            "topic_page",
            "get",
            reverse("topic_page", args=[local, w.topic]),
            {},
            READERS | {"outsider"},
            listed_for=READERS,
            group_scoped=False,
        ),
        Step(
            "topic_records",
            "get",
            reverse("topic_records", args=[local, w.topic]),
            {"partition": "0"},
            RECORD_READERS,
            group_scoped=False,
        ),
        Step("reset_form", "get", reverse("reset_form", args=[local, g]), {}, RESETTERS),
        Step("reset_form", "get", reverse("reset_form", args=[local, g]), {"undo": w.operation.pk}, RESETTERS),
        Step("reset_preview", "post", reverse("reset_preview", args=[local, g]), preview, RESETTERS),
        Step(
            "reset_confirm",
            "post",
            reverse("reset_confirm", args=[local, g]),
            {"token": w.token, "reason": "walk"},
            RESETTERS,
        ),
        Step("delete_group", "get", reverse("delete_group", args=[local, g]), {}, DELETERS),
        Step(
            "delete_group",
            "post",
            reverse("delete_group", args=[local, g]),
            {"reason": "walk", "confirm_group": g},
            DELETERS,
        ),
        Step("delete_offsets", "get", reverse("delete_offsets", args=[local, g]), {}, DELETERS),
        Step(
            "delete_offsets_preview",
            "post",
            reverse("delete_offsets_preview", args=[local, g]),
            {"topics": [w.topic]},
            DELETERS,
        ),
        Step(
            "delete_offsets_confirm",
            "post",
            reverse("delete_offsets_confirm", args=[local, g]),
            {"token": w.deletion_token, "reason": "walk"},
            DELETERS,
        ),
        Step(
            "replay_action",
            "get",
            reverse("replay_action", args=[local, w.topic]),
            {},
            READERS | {"outsider"},
            group_scoped=False,
        ),
        Step("replay_form", "get", reverse("replay_form", args=[local, w.topic]), {}, REPLAYERS, group_scoped=False),
        Step(
            "replay_preview",
            "post",
            reverse("replay_preview", args=[local, w.topic]),
            replay_preview,
            REPLAYERS,
            group_scoped=False,
        ),
        Step(
            "replay_confirm",
            "post",
            reverse("replay_confirm", args=[local, w.topic]),
            {"token": w.replay_token, "reason": "walk"},
            REPLAYERS,
            group_scoped=False,
        ),
        Step("operation_page", "get", reverse("operation_page", args=[w.operation.pk]), {}, READERS),
        Step("operation_page", "get", reverse("operation_page", args=[w.awaiting["reject"].pk]), {}, READERS),
        Step("approval_list", "get", reverse("approval_list"), {}, APPROVERS, group_scoped=False, cluster_scoped=False),
        # Everyone's own requests: no grant is needed to see what one asked for.
        Step("my_requests", "get", reverse("my_requests"), {}, everyone, group_scoped=False, cluster_scoped=False),
        Step(
            "approve_operation",
            "post",
            reverse("approve_operation", args=[w.awaiting["approve"].pk]),
            {"comment": "walk"},
            APPROVERS,
        ),
        Step(
            "reject_operation",
            "post",
            reverse("reject_operation", args=[w.awaiting["reject"].pk]),
            {"comment": "walk"},
            APPROVERS,
        ),
        Step(
            "cancel_operation",
            "post",
            reverse("cancel_operation", args=[w.awaiting["cancel"].pk]),
            {},
            {REQUESTER},
            refusals=("ask an admin for the", f"Only {REQUESTER}, who requested operation"),
        ),
        # Seeing a replay takes a view grant on its cluster (a user with none is refused there, on no
        # group); cancelling it is refused on its private copy group.
        Step(
            "cancel_replay",
            "post",
            reverse("cancel_replay", args=[w.replay.pk]),
            {},
            {REQUESTER, "admin"},
            denied_group=lambda username, g=w.replay.group_id: "" if username == "nobody" else g,
            refusals=("ask an admin for the", f"only {REQUESTER}, who requested it, or a user"),
        ),
        Step(
            "share_group_list",
            "get",
            reverse("share_group_list", args=[local]),
            {},
            READERS | {"outsider"},
            group_scoped=False,
        ),
        Step("share_group_page", "get", reverse("share_group_page", args=[local, g]), {}, READERS, absent=True),
        Step("share_reset_form", "get", reverse("share_reset_form", args=[local, g]), {}, RESETTERS, absent=True),
        Step(
            "share_reset_preview",
            "post",
            reverse("share_reset_preview", args=[local, g]),
            {"strategy": "to-earliest", "scope_mode": "all", "value": "", "scope": ""},
            RESETTERS,
            absent=True,
        ),
        Step(
            "share_reset_confirm",
            "post",
            reverse("share_reset_confirm", args=[local, g]),
            {"token": "not-a-preview", "reason": "walk"},
            RESETTERS,
            absent=True,
        ),
        Step("metrics", "get", reverse("metrics"), {}, set(), own_access=True),
        # The alerts page shows each user the alerts of the groups they may view: no grant is needed.
        Step("alert_list", "get", reverse("alert_list"), {}, everyone, group_scoped=False, cluster_scoped=False),
        *_alert_rule_steps(w),
        *_api_steps(w),
    ]


def _api_steps(w: Walk) -> list[Step]:
    """The JSON API: the pages' rights, route by route (the same tokens as the pages' confirmations)."""
    g, local, everyone = w.group, "local", set(USERS)
    first_event = AuditEvent.objects.order_by("id").values_list("id", flat=True).first()
    anywhere = {"group_scoped": False, "cluster_scoped": False}
    return [
        Step("api:openapi-json", "get", reverse("api:openapi-json"), {}, everyone, **anywhere),
        Step("api:openapi-view", "get", reverse("api:openapi-view"), {}, everyone, **anywhere),
        Step("api:api_clusters", "get", reverse("api:api_clusters"), {}, everyone),
        Step(
            "api:api_groups",
            "get",
            reverse("api:api_groups", args=[local]),
            # Filtered to the walk's group: on a broker shared with other tests, an unfiltered
            # first page (by lag) need not reach it.
            {"q": g},
            READERS | {"outsider"},
            listed_for=READERS,
            group_scoped=False,
        ),
        Step("api:api_group", "get", reverse("api:api_group", args=[local, g]), {}, READERS),
        Step("api:api_group_history", "get", reverse("api:api_group_history", args=[local, g]), {}, READERS),
        Step(
            "api:api_topics",
            "get",
            reverse("api:api_topics", args=[local]),
            {"q": w.topic},
            READERS | {"outsider"},
            group_scoped=False,
        ),
        Step(
            "api:api_topic",
            "get",
            reverse("api:api_topic", args=[local, w.topic]),
            {},
            READERS | {"outsider"},
            listed_for=READERS,
            group_scoped=False,
        ),
        Step(
            "api:api_share_groups",
            "get",
            reverse("api:api_share_groups", args=[local]),
            {},
            READERS | {"outsider"},
            group_scoped=False,
        ),
        Step("api:api_share_group", "get", reverse("api:api_share_group", args=[local, g]), {}, READERS, absent=True),
        # Everyone gets the operations they may view: none at all is an empty list, not a refusal.
        Step("api:api_operations", "get", reverse("api:api_operations"), {"group": g}, everyone, **anywhere),
        Step("api:api_operation", "get", reverse("api:api_operation", args=[w.operation.pk]), {}, READERS),
        Step("api:api_approvals", "get", reverse("api:api_approvals"), {}, APPROVERS, **anywhere),
        Step("api:api_audit", "get", reverse("api:api_audit"), {}, AUDITORS, **anywhere),
        Step(
            "api:api_audit_event", "get", reverse("api:api_audit_event", args=[first_event]), {}, AUDITORS, **anywhere
        ),
        Step("api:api_audit_export_csv", "get", reverse("api:api_audit_export_csv"), {}, AUDITORS, **anywhere),
        Step("api:api_audit_export_json", "get", reverse("api:api_audit_export_json"), {}, AUDITORS, **anywhere),
        Step(
            "api:api_reset_preview",
            "post",
            reverse("api:api_reset_preview", args=[local, g]),
            {"strategy": "to-earliest"},
            RESETTERS,
        ),
        Step(
            "api:api_reset_request",
            "post",
            reverse("api:api_reset_request", args=[local, g]),
            {"token": w.token, "reason": "walk"},
            RESETTERS,
        ),
        Step("share_group_delete", "get", reverse("share_group_delete", args=[local, g]), {}, DELETERS, absent=True),
        Step("streams_group_page", "get", reverse("streams_group_page", args=[local, g]), {}, READERS, absent=True),
        Step(
            "api:api_streams_group", "get", reverse("api:api_streams_group", args=[local, g]), {}, READERS, absent=True
        ),
        Step(
            "api:api_share_delete_preview",
            "get",
            reverse("api:api_share_delete_preview", args=[local, g]),
            {},
            DELETERS,
            absent=True,
        ),
        Step(
            "api:api_share_delete",
            "post",
            reverse("api:api_share_delete", args=[local, g]),
            {"reason": "walk"},
            DELETERS,
            absent=True,
        ),
        Step("api:api_undo_preview", "post", reverse("api:api_undo_preview", args=[w.operation.pk]), {}, RESETTERS),
        Step(
            "api:api_share_reset_preview",
            "post",
            reverse("api:api_share_reset_preview", args=[local, g]),
            {"strategy": "to-earliest"},
            RESETTERS,
            absent=True,
        ),
        Step(
            "api:api_share_reset_request",
            "post",
            reverse("api:api_share_reset_request", args=[local, g]),
            {"token": "not-a-preview", "reason": "walk"},
            RESETTERS,
            absent=True,
        ),
        Step(
            "api:api_delete_group_preview",
            "get",
            reverse("api:api_delete_group_preview", args=[local, g]),
            {},
            DELETERS,
        ),
        Step(
            "api:api_delete_group",
            "post",
            reverse("api:api_delete_group", args=[local, g]),
            {"reason": "walk"},
            DELETERS,
        ),
        Step(
            "api:api_delete_offsets_preview",
            "post",
            reverse("api:api_delete_offsets_preview", args=[local, g]),
            {"scope": w.topic},
            DELETERS,
        ),
        Step(
            "api:api_delete_offsets_request",
            "post",
            reverse("api:api_delete_offsets_request", args=[local, g]),
            {"token": w.deletion_token, "reason": "walk"},
            DELETERS,
        ),
        Step(
            "api:api_replay_preview",
            "post",
            reverse("api:api_replay_preview", args=[local, w.topic]),
            _replay_form(w),
            REPLAYERS,
            group_scoped=False,
        ),
        Step(
            "api:api_replay_request",
            "post",
            reverse("api:api_replay_request", args=[local, w.topic]),
            {"token": w.replay_token, "reason": "walk"},
            REPLAYERS,
            group_scoped=False,
        ),
        Step(
            "api:api_approve_operation",
            "post",
            reverse("api:api_approve_operation", args=[w.awaiting["api_approve"].pk]),
            {"comment": "walk"},
            APPROVERS,
        ),
        Step(
            "api:api_reject_operation",
            "post",
            reverse("api:api_reject_operation", args=[w.awaiting["api_reject"].pk]),
            {"comment": "walk"},
            APPROVERS,
        ),
        Step(
            "api:api_cancel_operation",
            "post",
            reverse("api:api_cancel_operation", args=[w.awaiting["api_cancel"].pk]),
            {},
            {REQUESTER},
            refusals=("ask an admin for the", f"Only {REQUESTER}, who requested operation"),
        ),
        Step(
            "api:api_cancel_replay",
            "post",
            reverse("api:api_cancel_replay", args=[w.api_replay.pk]),
            {},
            {REQUESTER, "admin"},
            denied_group=lambda username, g=w.api_replay.group_id: "" if username == "nobody" else g,
            refusals=("ask an admin for the", f"only {REQUESTER}, who requested it, or a user"),
        ),
    ]


def _alert_rule_form(w: Walk, pattern: str) -> dict:
    return {
        "name": f"walk {pattern}",
        "cluster": w.alert_rules["edited"].cluster_id,
        "group_pattern": pattern,
        "statuses": ["STALL"],
        "for_minutes": "0",
        "renotify_minutes": "0",
        "emails": "oncall@example.com",
        "webhook_format": "json",
        "enabled": "on",
    }


def _alert_rule_steps(w: Walk) -> list[Step]:
    edited, deleted = w.alert_rules["edited"].pk, w.alert_rules["deleted"].pk
    alerters = ALERTERS | {"outsider"}  # any alert grant opens the rules' pages; each rule is then in scope or not
    return [
        # Whoever may view groups reads the rules on them (read-only without an alert grant): the walk's rules,
        # on the walk's group, are listed for every reader but the outsider.
        Step(
            "alert_rules",
            "get",
            reverse("alert_rules"),
            {},
            READERS | {"outsider"},
            listed_for=READERS,
            group_scoped=False,
            cluster_scoped=False,
        ),
        Step(
            "alert_rule_new", "get", reverse("alert_rule_new"), {}, alerters, group_scoped=False, cluster_scoped=False
        ),
        Step(
            "alert_rule_create",
            "post",
            reverse("alert_rule_create"),
            _alert_rule_form(w, "other-walk-*"),
            alerters,
            group_scoped=False,
            cluster_scoped=False,
        ),
        Step("alert_rule_edit", "get", reverse("alert_rule_edit", args=[edited]), {}, ALERTERS),
        Step(
            "alert_rule_save", "post", reverse("alert_rule_save", args=[edited]), _alert_rule_form(w, w.group), ALERTERS
        ),
        Step("alert_rule_delete_confirm", "get", reverse("alert_rule_delete_confirm", args=[deleted]), {}, ALERTERS),
        Step("alert_rule_delete", "post", reverse("alert_rule_delete", args=[deleted]), {}, ALERTERS),
    ]


@pytest.fixture
def walk(cluster, kafka_bootstrap, unique, make_user, use_test_redis, settings) -> Walk:
    # Metrics on, by token only: a session, even an admin's, is then no way in.
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_IPS = "walk-scrape-token-0123456789", []
    topic, group, target = unique("walk"), unique("walk-group"), unique("walk-target")
    kt.create_topic(kafka_bootstrap, topic, 2)
    kt.create_topic(kafka_bootstrap, target, 2)
    kt.produce(kafka_bootstrap, topic, {0: 20, 1: 20})
    kt.commit(kafka_bootstrap, group, {(topic, 0): 10, (topic, 1): 15})
    # Lists and topic pages read the collector's snapshot.
    assert collect(cluster).outcome == COLLECTED
    for username, grant in USERS.items():
        role, pattern = grant or (None, "*")
        make_user(username, role, pattern=pattern)
    plan = resets.plan_rows(resets.preview_reset(client_for(cluster), group, "to-current").plan)
    done = Operation.objects.create(
        kind=Operation.Kind.RESET,
        cluster=cluster,
        group_id=group,
        plan=plan,
        reason="earlier",
        status=Operation.Status.SUCCEEDED,
        strategy="to-current",
    )
    earliest = resets.plan_rows(resets.preview_reset(client_for(cluster), group, "to-earliest").plan)
    awaiting = {
        step: Operation.objects.create(
            kind=Operation.Kind.RESET,
            cluster=cluster,
            group_id=group,
            plan=earliest,
            strategy="to-earliest",
            reason=f"walk {step}",
            requester=User.objects.get(username=REQUESTER),
            status=Operation.Status.AWAITING_APPROVAL,
            expires_at=timezone.now() + timedelta(hours=1),
        )
        for step in ("approve", "reject", "cancel", "api_approve", "api_reject", "api_cancel")
    }
    admin = Client()
    admin.force_login(make_user("token-maker", "Admin"))
    previewed = admin.post(
        reverse("reset_preview", args=["local", group]), {"strategy": "to-earliest", "scope_mode": "all"}
    )
    token = re.search(r'name="token" value="([^"]+)"', previewed.content.decode()).group(1)
    walk = Walk(
        group=group,
        topic=topic,
        target=target,
        operation=done,
        token=token,
        replay_token="",
        replay=done,
        api_replay=done,
        awaiting=awaiting,
    )
    deletion_previewed = admin.post(reverse("delete_offsets_preview", args=["local", group]), {"topics": [topic]})
    deletion_token = re.search(r'name="token" value="([^"]+)"', deletion_previewed.content.decode()).group(1)
    walk = replace(walk, deletion_token=deletion_token)
    replay_previewed = admin.post(reverse("replay_preview", args=["local", topic]), _replay_form(walk))
    replay_token = re.search(r'name="token" value="([^"]+)"', replay_previewed.content.decode()).group(1)
    wanted = replay.ReplayRequest(
        topic=topic, partitions=None, offsets={0: (0, 5)}, time_from_ms=None, time_to_ms=None, target_topic=target
    )
    pending_replay, api_replay = (
        replay.request_replay(  # not dispatched: it stays pending
            cluster=cluster,
            request=wanted,
            preview=replay.preview_replay(client_for(cluster), wanted),
            reason="walk",
            actor=REQUESTER,
            requester=User.objects.get(username=REQUESTER),
            dispatch=False,
        )
        for _ in range(2)
    )
    alert_rules = {
        use: AlertRule.objects.create(
            name=f"walk {use}", cluster=cluster, group_pattern=group, statuses=["STALL"], emails=["oncall@example.com"]
        )
        for use in ("edited", "deleted")
    }
    return replace(
        walk, replay_token=replay_token, replay=pending_replay, api_replay=api_replay, alert_rules=alert_rules
    )


def _replay_form(w: Walk) -> dict:
    return {
        "partitions_mode": "all",
        "range_mode": "offsets",
        "offsets": "0-5",
        "key_filter": "none",
        "header_filter": "none",
        "target_topic": w.target,
        "partitioning": "same",
        "timestamps": "keep",
    }


# Every kind of preview the walk confirms; each is signed with its own salt.
_PREVIEW_SALTS = (reset_pages.TOKEN_SALT, offset_deletion_pages.TOKEN_SALT, replay_pages.TOKEN_SALT)


def _fresh(data: dict) -> dict:
    """The step's data with its preview signed again under a new nonce: a preview confirms once, and the walk
    confirms the same one as every user, through the pages and the API."""
    for salt in _PREVIEW_SALTS:
        try:
            signed = signing.loads(data.get("token", ""), salt=salt)
        except signing.BadSignature:
            continue
        return {**data, "token": sign_preview(salt, signed)}
    return data


def _request(client: Client, step: Step):
    data = _fresh(step.data) if step.method == "post" and isinstance(step.data, dict) else step.data
    if step.api and step.method == "post":
        return client.post(step.url, data, content_type="application/json")
    return getattr(client, step.method)(step.url, data)


def _lists_group(response, step: Step, group: str) -> bool:
    if step.name == "api:api_groups":
        return group in [g["group"] for g in response.json()["groups"]]
    if step.name == "api:api_topic":
        return group in [g["group"] for g in response.json()["readers"]]
    if step.name == "group_list":
        return f'data-group="{group}"' in response.content.decode()
    if step.name == "alert_rules":
        return f"<code>{html.escape(group)}</code>" in response.content.decode()
    return group in [g.group_id for g in response.context["readers"]]


def _lists_cluster(response, step: Step) -> bool:
    if step.api:
        return "local" in [c["name"] for c in response.json()["clusters"]]
    return [c.name for c in response.context["clusters"]] == ["local"]


def test_the_walk_covers_every_url_of_the_console(walk):
    names = {p.name for p in urlpatterns if isinstance(p, URLPattern)}
    (api,) = (p for p in urlpatterns if isinstance(p, URLResolver) and p.namespace == "api")
    # The API's root only says where the docs are; it is no route of its own.
    names |= {f"api:{p.name}" for p in api.url_patterns if p.name != "api-root"}
    # The load balancer's probes answer everyone alike and name nothing (test_production_pages proves it).
    names -= {"healthz", "readyz"}
    assert names == {step.name for step in _steps(walk)}


def test_a_signed_out_visitor_is_sent_to_the_login_page_and_a_script_gets_401(walk):
    anonymous = Client()
    for step in _steps(walk):
        response = _request(anonymous, step)
        if step.own_access:
            assert response.status_code == 403, step
            assert "Authorization: Bearer" in response.content.decode(), step
        elif step.api:
            assert response.status_code == 401, step
            assert response.json()["code"] == "UNAUTHENTICATED"
        else:
            assert response.status_code == 302, step
            assert response.url.startswith("/login/?next="), step
    assert not AuditEvent.objects.filter(action="denied").exists()
    assert not Operation.objects.exclude(pk__in=walk.existing).exists()
    assert all(
        operation.status == "awaiting_approval"
        for operation in Operation.objects.filter(pk__in=[operation.pk for operation in walk.awaiting.values()])
    )


@pytest.mark.parametrize("username", USERS)
def test_each_url_answers_each_user_as_their_grants_say(walk, username):
    client = Client()
    client.force_login(User.objects.get(username=username))
    for step in _steps(walk):
        denials = AuditEvent.objects.filter(action="denied").count()
        response = _request(client, step)
        if step.own_access:
            assert response.status_code == 403, (step, response.status_code)
            assert "Authorization: Bearer" in response.content.decode(), step
            assert AuditEvent.objects.filter(action="denied").count() == denials, step
            continue
        if username in step.may:
            allowed = (200, 201, 302, 400, 404) if step.absent else (200, 201, 302)
            assert response.status_code in allowed, (step, response.status_code)
            assert AuditEvent.objects.filter(action="denied").count() == denials, step
            if step.listed_for:
                assert _lists_group(response, step, walk.group) == (username in step.listed_for), step
            if step.name in ("cluster_list", "api:api_clusters"):
                assert _lists_cluster(response, step) == (username != "nobody"), step
            continue
        assert response.status_code == 403, (step, response.status_code)
        denial = AuditEvent.objects.filter(action="denied").order_by("-id").first()
        assert AuditEvent.objects.filter(action="denied").count() == denials + 1, step
        assert (denial.actor, denial.outcome) == (username, "denied"), step
        assert denial.cluster == ("local" if step.cluster_scoped else ""), step
        if callable(step.denied_group):
            expected_group = step.denied_group(username)
        elif step.denied_group is not None:
            expected_group = step.denied_group
        else:
            expected_group = walk.group if step.group_scoped else ""
        assert denial.group_id == expected_group, step
        assert denial.source_ip == "127.0.0.1"
        assert any(refusal in denial.error for refusal in step.refusals), (step, denial.error)
        if step.api:
            assert response.json() == {"error": denial.error, "code": "FORBIDDEN"}, step
        else:
            assert html.escape(denial.error) in response.content.decode(), step
    requested = Operation.objects.exclude(pk__in=walk.existing)
    assert set(requested.values_list("requester__username", flat=True)) <= (
        {username} & (RESETTERS | DELETERS | REPLAYERS)
    )
    now = {step: Operation.objects.get(pk=operation.pk).status for step, operation in walk.awaiting.items()}
    decided = {step: status for step, status in now.items() if status != "awaiting_approval"}
    expected = (
        {"approve": "pending", "reject": "cancelled", "api_approve": "pending", "api_reject": "cancelled"}
        if username in APPROVERS
        else {}
    )
    cancelled = {"cancel": "cancelled", "api_cancel": "cancelled"} if username == REQUESTER else {}
    assert decided == expected | cancelled


def test_the_group_page_says_what_the_user_may_not_do_instead_of_offering_it(walk, client, make_user):
    url = reverse("group_page", args=["local", walk.group])
    reset_href = f'href="{reverse("reset_form", args=["local", walk.group])}"'
    delete_href = f'href="{reverse("delete_group", args=["local", walk.group])}"'

    client.force_login(User.objects.get(username="viewer"))
    page = client.get(url).content.decode()
    assert "You need the Operator role on this group to reset offsets." in page
    assert "You need the Admin role on this group to delete it." in page
    assert reset_href not in page and delete_href not in page
    assert f'href="{reverse("operation_page", args=[walk.operation.pk])}"' in page  # history is for readers too

    client.force_login(User.objects.get(username="operator"))
    page = client.get(url).content.decode()
    assert reset_href in page and "to reset offsets" not in page
    assert delete_href not in page and "You need the Admin role on this group to delete it." in page

    client.force_login(User.objects.get(username="admin"))
    page = client.get(url).content.decode()
    assert reset_href in page and delete_href in page and "You need the" not in page


def test_only_who_may_reset_is_offered_an_undo(walk, client):
    url = reverse("operation_page", args=[walk.operation.pk])
    client.force_login(User.objects.get(username="approver"))
    page = client.get(url).content.decode()
    assert 'id="undo"' not in page and "You need the Operator role on this group to undo this reset." in page
    client.force_login(User.objects.get(username="operator"))
    assert 'id="undo"' in client.get(url).content.decode()


def test_copying_offsets_from_another_group_needs_the_right_to_view_it(
    walk, client, make_user, kafka_bootstrap, unique
):
    secret = unique("secret-group")
    kt.commit(kafka_bootstrap, secret, {(walk.topic, 0): 3})
    client.force_login(make_user("walker", "Operator", pattern="walk-*"))
    response = client.post(
        reverse("reset_preview", args=["local", walk.group]),
        {"strategy": "from-group", "value": secret, "scope_mode": "all"},
    )
    assert response.status_code == 403
    assert b"You may not view group" in response.content and 'name="token"' not in response.content.decode()
    assert AuditEvent.objects.filter(action="denied", actor="walker", group_id=secret).exists()


def test_the_cli_needs_a_known_user_allowed_to_reset(walk):
    args = ["reset_offsets", "--cluster", "local", "--group", walk.group, "--all-topics", "--to-earliest", "--dry-run"]
    with pytest.raises(CommandError, match="--as"):
        call_command(*args)
    with pytest.raises(CommandError, match=r"^Unknown user 'ghost': --as names a user of the console\.$"):
        call_command(*args, "--as", "ghost")
    with pytest.raises(
        CommandError,
        match=rf"^You may not reset offsets of group '{walk.group}' on cluster 'local': "
        r"ask an admin for the Operator role on it\.$",
    ):
        call_command(*args, "--as", "viewer")
    assert AuditEvent.objects.filter(action="denied", actor="viewer", group_id=walk.group).count() == 1


@pytest.mark.django_db(transaction=True)
def test_from_a_shell_a_refused_user_is_one_line_on_stderr_and_exit_1(walk):
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "reset_offsets",
            "--cluster",
            "local",
            "--group",
            walk.group,
            "--as",
            "approver",
            "--all-topics",
            "--to-earliest",
            "--execute",
            "--reason",
            "should not run",
        ],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "DATABASE_URL": shared_database_url()},
    )
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == (
        f"CommandError: You may not reset offsets of group '{walk.group}' on cluster 'local': "
        "ask an admin for the Operator role on it.\n"
    )
    assert not Operation.objects.exclude(pk__in=walk.existing).exists()


def test_the_worker_refuses_an_operation_whose_requester_lost_the_right_meanwhile(
    celery_worker, cluster, kafka_bootstrap, unique, make_user
):
    topic, group = unique("revoked"), unique("revoked-group")
    kt.create_topic(kafka_bootstrap, topic, 1)
    kt.produce(kafka_bootstrap, topic, {0: 10})
    kt.commit(kafka_bootstrap, group, {(topic, 0): 7})
    ann = make_user("ann", "Operator")
    plan = resets.plan_rows(resets.preview_reset(client_for(cluster), group, "to-earliest").plan)
    operation = resets.request_operation(
        cluster=cluster,
        group_id=group,
        kind=Operation.Kind.RESET,
        plan=plan,
        reason="before the rights changed",
        actor="ann",
        requester=ann,
        dispatch=False,
    )
    Grant.objects.filter(user=ann).delete()
    tasks.run_operation.delay(operation.pk)

    def final():
        operation.refresh_from_db()
        return operation.is_final

    kt.wait_for(final, timeout=60, what="the worker to finish the operation")
    assert operation.status == "failed"
    assert operation.error == (
        f"ann may not reset offsets of group '{group}' on cluster 'local': ask an admin for the "
        "Operator role on it. This was checked again when a worker started the operation, "
        "so nothing was changed."
    )
    assert list(operation.events.order_by("id").values_list("action", "actor")) == [
        ("requested", "ann"),
        ("started", "worker"),
        ("denied", "ann"),
        ("failed", "worker"),
    ]
    assert client_for(cluster).committed_offsets([group])[group] == {TP(topic, 0): 7}


def test_a_post_without_the_csrf_token_is_refused_and_htmx_sends_it_from_the_page(walk):
    client = Client(enforce_csrf_checks=True)
    client.force_login(User.objects.get(username="operator"))
    url = reverse("reset_preview", args=["local", walk.group])
    data = {"strategy": "to-earliest", "scope_mode": "all"}
    assert client.post(url, data).status_code == 403
    assert client.post(url, data, HTTP_HX_REQUEST="true").status_code == 403
    assert client.post(reverse("logout")).status_code == 403
    page = client.get(reverse("reset_form", args=["local", walk.group])).content.decode()
    token = re.search(r"""<body hx-headers='\{"X-CSRFToken": "([^"]+)"\}'>""", page).group(1)
    previewed = client.post(url, data, HTTP_HX_REQUEST="true", HTTP_X_CSRFTOKEN=token)
    assert previewed.status_code == 200 and 'id="plan"' in previewed.content.decode()


def test_a_hostile_group_name_is_shown_as_text_everywhere(
    cluster, kafka_bootstrap, unique, client, make_user, use_test_redis
):
    topic = unique("xss")
    group = f"<script>alert(1)</script>-{unique('g')}"
    kt.create_topic(kafka_bootstrap, topic, 1)
    kt.produce(kafka_bootstrap, topic, {0: 5})
    kt.commit(kafka_bootstrap, group, {(topic, 0): 2})
    assert collect(cluster).outcome == COLLECTED  # the list and the topic page read the snapshot
    client.force_login(make_user("admin", "Admin"))
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    pages = {
        "list": client.get(reverse("group_list", args=["local"]), {"q": group}),
        "group": client.get(reverse("group_page", args=["local", group])),
        "topic": client.get(reverse("topic_page", args=["local", topic])),
        "preview": client.post(
            reverse("reset_preview", args=["local", group]), {"strategy": "to-earliest", "scope_mode": "all"}
        ),
    }
    # A denied attempt on the group puts its name in the audit log, which must show it as text too.
    denied = Client()
    denied.force_login(make_user("outsider", "Viewer", pattern="other-*"))
    assert denied.get(reverse("group_page", args=["local", group])).status_code in (403, 404)
    pages["audit"] = client.get(reverse("audit_list"), {"group": group})
    for name, response in pages.items():
        body = response.content.decode()
        assert response.status_code == 200, name
        assert escaped in body, name
        assert "<script>alert(1)" not in body, name
    assert 'id="plan"' in pages["preview"].content.decode()
