"""Who may do what where: grants, roles, patterns and the refusals `groups.access` gives (database only, no broker)."""

import pytest
from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied, ValidationError

from groups import access, audit
from groups.models import AuditEvent, Cluster, Grant

pytestmark = pytest.mark.django_db


@pytest.fixture
def prod(db):
    return Cluster.objects.create(name="prod", bootstrap_servers="127.0.0.1:1")


@pytest.fixture
def staging(db):
    return Cluster.objects.create(name="staging", bootstrap_servers="127.0.0.1:2")


def test_each_role_allows_exactly_its_actions(make_user, prod):
    for role, actions in access.ROLES.items():
        user = make_user(role.lower(), role)
        assert {a for a in access.ACTIONS if access.allowed(user, a, prod, "g")} == actions, role


def test_a_grant_on_one_cluster_does_not_reach_another(make_user, prod, staging):
    user = make_user("ann", "Operator", cluster=prod)
    assert access.allowed(user, "reset", prod, "g")
    assert not access.allowed(user, "view", staging, "g")
    assert not access.allowed(user, "view", staging)
    assert access.allowed(user, "view")  # on some cluster


def test_a_grant_on_every_cluster_reaches_clusters_added_later(make_user, prod):
    user = make_user("ann", "Viewer")
    later = Cluster.objects.create(name="later", bootstrap_servers="127.0.0.1:3")
    assert access.allowed(user, "view", prod, "g") and access.allowed(user, "view", later, "g")


def test_a_pattern_matches_case_sensitively_and_an_exact_name_matches_itself(make_user, prod):
    user = make_user("ann", "Viewer", pattern="payments-*")
    assert access.allowed(user, "view", prod, "payments-eu")
    assert not access.allowed(user, "view", prod, "Payments-eu")
    assert not access.allowed(user, "view", prod, "old-payments-eu")
    assert access.allowed(user, "view", prod)  # some group of prod: enough to show the cluster
    # Kafka allows [ ] in group ids; as a glob "odd[1]" would only match "odd1".
    odd = make_user("bob", "Viewer", pattern="odd[1]")
    assert access.allowed(odd, "view", prod, "odd[1]")


@pytest.mark.parametrize(
    ("pattern", "matched"),
    [
        ("team[[]1]", {"team[1]"}),  # a bracket itself
        ("team[1]", {"team1", "team[1]"}),  # the glob's match, and the exact id
        ("team[!1]", {"team2", "team^", "team-"}),
        ("team[^-]", {"team^", "team-"}),
        ("team[]^]", {"team^"}),  # a ] first in the brackets is one of the characters
    ],
)
def test_brackets_in_a_pattern_read_the_same_in_the_database_as_in_the_console(make_user, prod, pattern, matched):
    """The audit log's scope is a regex the database runs (PostgreSQL's own engine with --database=postgres)."""
    ids = ("team1", "team2", "team[1]", "team^", "team-")
    for group_id in ids:
        audit.record("requested", actor="alice", cluster="prod", group_id=group_id)
    auditor = make_user("auditor", "Approver", cluster=prod, pattern=pattern)
    assert {group_id for group_id in ids if access.allowed(auditor, "view", prod, group_id)} == matched
    scoped = AuditEvent.objects.filter(access.audit_scope(auditor)).values_list("group_id", flat=True)
    assert set(scoped) == matched


def test_explicit_actions_allow_those_actions_only(make_user, prod):
    user = make_user("ann")
    Grant.objects.create(user=user, actions=["view", "delete"], cluster=prod)
    assert access.allowed(user, "delete", prod, "g") and access.allowed(user, "view", prod, "g")
    assert not access.allowed(user, "reset", prod, "g")


def test_a_grant_to_a_group_of_users_reaches_its_members_only(make_user, prod):
    team = Group.objects.create(name="payments-team")
    Grant.objects.create(user_group=team, role="Operator", cluster=prod, group_pattern="payments-*")
    member, outsider = make_user("ann"), make_user("bob")
    member.groups.add(team)
    assert access.allowed(member, "reset", prod, "payments-eu")
    assert not access.allowed(outsider, "view", prod, "payments-eu")


def test_grants_add_up(make_user, prod):
    user = make_user("ann", "Viewer")
    Grant.objects.create(user=user, role="Operator", cluster=prod, group_pattern="payments-*")
    assert access.allowed(user, "reset", prod, "payments-eu")
    assert not access.allowed(user, "reset", prod, "orders")
    assert access.allowed(user, "view", prod, "orders")


def test_superusers_may_do_everything_and_inactive_or_anonymous_users_nothing(make_user, prod):
    from django.contrib.auth.models import AnonymousUser

    root = User.objects.create_superuser("root", password="x")
    assert all(access.allowed(root, a, prod, "any") for a in access.ACTIONS)
    gone = make_user("gone", "Admin")
    gone.is_active = False
    gone.save()
    assert not access.allowed(gone, "view", prod, "g")
    assert not access.allowed(AnonymousUser(), "view", prod, "g")
    assert not access.allowed(None, "view", prod, "g")


def test_an_unknown_action_is_a_programming_error_not_a_refusal(make_user, prod):
    with pytest.raises(ValueError, match="unknown action 'rest'"):
        access.allowed(make_user("ann", "Admin"), "rest", prod, "g")


def test_visible_groups_keeps_the_viewable_ones_in_order(make_user, prod):
    user = make_user("ann", "Viewer", cluster=prod, pattern="payments-*")
    Grant.objects.create(user=user, role="Viewer", cluster=prod, group_pattern="orders")
    ids = ["payments-us", "orders", "billing", "payments-eu", "orders-2"]
    assert access.visible_groups(user, prod, ids) == ["payments-us", "orders", "payments-eu"]
    assert access.visible_groups(make_user("bob"), prod, ids) == []


def test_require_names_what_is_missing_and_records_the_denial(make_user, prod):
    user = make_user("ann", "Viewer")
    with pytest.raises(PermissionDenied) as refused:
        access.require(user, "reset", prod, "payments-eu", source_ip="10.0.0.7")
    message = (
        "You may not reset offsets of group 'payments-eu' on cluster 'prod': ask an admin for the Operator role on it."
    )
    assert str(refused.value) == message
    event = AuditEvent.objects.get()
    assert (event.action, event.actor, event.cluster, event.group_id, event.error, event.source_ip, event.outcome) == (
        "denied",
        "ann",
        "prod",
        "payments-eu",
        message,
        "10.0.0.7",
        "denied",
    )


def test_require_allows_silently(make_user, prod):
    access.require(make_user("ann", "Operator"), "reset", prod, "g")
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize(
    ("action", "cluster", "group", "message"),
    [
        (
            "delete",
            True,
            "g",
            "You may not delete group 'g' or its offsets on cluster 'prod': ask an admin for the Admin role on it.",
        ),
        (
            "view",
            True,
            None,
            "You may not view consumer groups on cluster 'prod': ask an admin for the Viewer role on it.",
        ),
        ("audit", False, None, "You may not review the audit log: ask an admin for the Approver role."),
    ],
)
def test_each_refusal_says_which_role_to_ask_for(make_user, prod, action, cluster, group, message):
    with pytest.raises(PermissionDenied, match=f"^{message.replace('(', '[(]')}$"):
        access.require(make_user("ann"), action, prod if cluster else None, group)


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"role": "Viewer"}, "exactly one"),
        ({"role": "Viewer", "both": True}, "exactly one"),
        ({"user": True}, "not both, not neither"),
        ({"user": True, "role": "Viewer", "actions": ["view"]}, "not both, not neither"),
        ({"user": True, "actions": ["view", "launch"]}, "Unknown actions launch"),
        ({"user": True, "role": "Superhero"}, "not a valid choice"),
        ({"user": True, "role": "Viewer", "pattern": "team[1"}, r"opens a \[ at character 5 that no \] closes"),
    ],
)
def test_a_grant_that_makes_no_sense_is_refused(make_user, fields, error):
    user = make_user("ann")
    team = Group.objects.create(name="team")
    grant = Grant(
        user=user if fields.get("user") or fields.get("both") else None,
        user_group=team if fields.get("both") else None,
        role=fields.get("role", ""),
        actions=fields.get("actions", []),
        group_pattern=fields.get("pattern", "*"),
    )
    with pytest.raises(ValidationError, match=error):
        grant.full_clean()


def test_demo_users_get_their_roles_on_every_cluster_and_can_be_made_again(prod):
    assert access.ensure_demo_users("demo-password-1") == {
        "Viewer": "viewer",
        "Operator": "operator",
        "Approver": "approver",
        "Admin": "admin",
    }
    access.ensure_demo_users("demo-password-2")
    for role, username in access.DEMO_USERS.items():
        user = User.objects.get(username=username)
        assert user.check_password("demo-password-2")
        assert list(user.console_grants.values_list("role", "cluster", "group_pattern")) == [(role, None, "*")]
        assert {a for a in access.ACTIONS if access.allowed(user, a, prod, "any")} == access.ROLES[role]
    assert User.objects.get(username="admin").is_staff
    assert not User.objects.get(username="operator").is_staff


def test_grants_are_managed_in_django_admin(client, make_user, prod):
    client.force_login(User.objects.create_superuser("root", password="x"))
    ann = make_user("ann")
    url = "/admin/groups/grant/add/"
    assert client.get(url).status_code == 200
    fields = {"user": ann.pk, "cluster": prod.pk, "group_pattern": "payments-*"}
    assert client.post(url, {**fields, "actions": ["view", "delete"]}).status_code == 302
    refused = client.post(url, {**fields, "role": "Viewer", "actions": ["view"]})
    assert refused.status_code == 200 and b"not both, not neither" in refused.content
    assert list(Grant.objects.values_list("role", "actions", "group_pattern")) == [
        ("", ["view", "delete"], "payments-*")
    ]
    assert access.allowed(ann, "delete", prod, "payments-eu") and not access.allowed(ann, "reset", prod, "payments-eu")


def test_the_header_links_the_audit_log_only_for_users_who_may_audit(client, make_user, db):
    from django.urls import reverse

    auditor = make_user("header-approver", role="Approver")
    viewer = make_user("header-viewer", role="Viewer")
    client.force_login(auditor)
    assert f'href="{reverse("audit_list")}" id="audit-link"' in client.get("/").content.decode()
    client.force_login(viewer)
    assert 'id="audit-link"' not in client.get("/").content.decode()
