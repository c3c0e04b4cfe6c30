"""Changes made in Django admin (grants, clusters and their four-eyes switch, users, groups of users, API
tokens) land in the hash-chained audit log with their values before and after, never a secret, and the
chain still verifies."""

import io

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.urls import reverse

from groups.models import ApiToken, AuditEvent, Cluster, Grant

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_site(client, settings, tmp_path):
    settings.AUDIT_CHECKPOINT_DIR = tmp_path
    client.force_login(User.objects.create_superuser("root", "root@example.com", "not-used-here"))
    return client


@pytest.fixture
def prod(db):
    return Cluster.objects.create(name="prod", bootstrap_servers="broker:9092")


def _events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def _cluster_form(cluster: Cluster, **changes) -> dict:
    data = {
        "name": cluster.name,
        "bootstrap_servers": cluster.bootstrap_servers,
        "security_protocol": cluster.security_protocol,
        "sasl_mechanism": cluster.sasl_mechanism,
        "sasl_username": cluster.sasl_username,
        "secret_ref": cluster.secret_ref,
        "ssl_ca_location": cluster.ssl_ca_location,
        "approval_expiry_minutes": cluster.approval_expiry_minutes,
        "collect_every_seconds": cluster.collect_every_seconds,
    }
    if cluster.require_approval:
        data["require_approval"] = "on"
    if cluster.metrics_per_partition:
        data["metrics_per_partition"] = "on"
    data.update(changes)
    return {name: value for name, value in data.items() if value is not None}


def _user_form(user: User, **changes) -> dict:
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_active": "on" if user.is_active else None,
        "is_staff": "on" if user.is_staff else None,
        "is_superuser": "on" if user.is_superuser else None,
        "groups": [group.pk for group in user.groups.all()],
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
    }
    data.update(changes)
    return {name: value for name, value in data.items() if value is not None}


def test_a_grant_added_changed_and_deleted_in_admin_is_audited_with_its_values(admin_site, prod):
    alice = User.objects.create_user("alice")
    added = admin_site.post(
        reverse("admin:groups_grant_add"),
        {"user": alice.pk, "role": "Viewer", "cluster": prod.pk, "group_pattern": "payments-*"},
    )
    assert added.status_code == 302, added.content.decode()[:3000]
    grant = Grant.objects.get()
    (event,) = _events("admin_added")
    assert event.actor == "root" and event.outcome == "succeeded" and event.source_ip == "127.0.0.1"
    assert (event.cluster, event.group_id) == ("prod", "payments-*")
    assert "added grant 'alice: Viewer on prod / payments-*'" in event.reason
    assert "role: Viewer" in event.reason and "group pattern: payments-*" in event.reason

    changed = admin_site.post(
        reverse("admin:groups_grant_change", args=[grant.pk]),
        {"user": alice.pk, "role": "Admin", "cluster": prod.pk, "group_pattern": "payments-*"},
    )
    assert changed.status_code == 302
    (event,) = _events("admin_changed")
    assert "role: Viewer → Admin" in event.reason and "cluster" not in event.reason.partition(":")[2]

    deleted = admin_site.post(reverse("admin:groups_grant_delete", args=[grant.pk]), {"post": "yes"})
    assert deleted.status_code == 302 and not Grant.objects.exists()
    (event,) = _events("admin_deleted")
    assert event.reason == "deleted grant 'alice: Admin on prod / payments-*'" and event.cluster == "prod"


def test_turning_the_four_eyes_switch_on_in_admin_is_audited_on_its_cluster(admin_site, prod):
    response = admin_site.post(
        reverse("admin:groups_cluster_change", args=[prod.pk]),
        _cluster_form(prod, require_approval="on", approval_expiry_minutes=30),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    (event,) = _events("admin_changed")
    assert event.cluster == "prod"
    assert event.reason.startswith("changed cluster 'prod': ")
    assert "require approval: no → yes" in event.reason and "approval expiry minutes: 60 → 30" in event.reason


def test_a_users_flags_and_groups_changed_in_admin_are_audited(admin_site):
    ops = Group.objects.create(name="ops")
    bob = User.objects.create_user("bob")
    response = admin_site.post(
        reverse("admin:auth_user_change", args=[bob.pk]),
        _user_form(bob, is_staff="on", is_superuser="on", groups=[ops.pk]),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    (event,) = _events("admin_changed")
    assert event.reason.startswith("changed user 'bob': ")
    for change in ("staff status: no → yes", "superuser status: no → yes", "groups: none → ops"):
        assert change in event.reason
    assert event.cluster == "" and event.group_id == "", "only reviewers of the whole log see user changes"


def test_passwords_set_in_admin_are_named_never_written(admin_site):
    added = admin_site.post(
        reverse("admin:auth_user_add"),
        {"username": "carol", "usable_password": "true", "password1": "Tr0ub4dor&3xyz", "password2": "Tr0ub4dor&3xyz"},
    )
    assert added.status_code == 302, added.content.decode()[:3000]
    carol = User.objects.get(username="carol")
    changed = admin_site.post(
        reverse("admin:auth_user_password_change", args=[carol.pk]),
        {"usable_password": "true", "password1": "c0rrect-h0rse-battery", "password2": "c0rrect-h0rse-battery"},
    )
    assert changed.status_code == 302, changed.content.decode()[:3000]
    carol.refresh_from_db()
    added_event, changed_event = _events("admin_added")[0], _events("admin_changed")[0]
    assert added_event.reason == "added user 'carol': username: carol; password: set (never recorded)"
    assert changed_event.reason == "changed user 'carol': password: set (never recorded)"
    stored = " ".join(f"{e.reason} {e.error} {e.plan}" for e in AuditEvent.objects.all())
    for secret in ("Tr0ub4dor&3xyz", "c0rrect-h0rse-battery", carol.password, carol.password.split("$")[-1]):
        assert secret not in stored


def test_deleting_a_user_names_the_grants_that_go_with_it(admin_site, prod):
    dave = User.objects.create_user("dave")
    Grant.objects.create(user=dave, role="Operator", cluster=prod, group_pattern="*")
    response = admin_site.post(reverse("admin:auth_user_delete", args=[dave.pk]), {"post": "yes"})
    assert response.status_code == 302
    (event,) = _events("admin_deleted")
    assert event.reason == "deleted user 'dave', with its grants: dave: Operator on prod / *"


def test_revoking_api_tokens_in_bulk_records_each_and_never_the_key(admin_site):
    keys = [ApiToken.issue(User.objects.create_user(name)) for name in ("erin", "frank")]
    response = admin_site.post(
        reverse("admin:groups_apitoken_changelist"),
        {
            "action": "delete_selected",
            "_selected_action": list(ApiToken.objects.values_list("pk", flat=True)),
            "post": "yes",
        },
    )
    assert response.status_code == 302 and not ApiToken.objects.exists()
    assert sorted(e.reason for e in _events("admin_deleted")) == [
        "deleted api token 'API token of erin'",
        "deleted api token 'API token of frank'",
    ]
    stored = " ".join(AuditEvent.objects.values_list("reason", flat=True))
    assert not any(key in stored or ApiToken.digest(key) in stored for key in keys)


def test_saving_an_admin_form_unchanged_records_nothing(admin_site, prod):
    response = admin_site.post(reverse("admin:groups_cluster_change", args=[prod.pk]), _cluster_form(prod))
    assert response.status_code == 302
    assert not AuditEvent.objects.exists()


def test_the_chain_verifies_after_admin_changes(admin_site, prod):
    admin_site.post(reverse("admin:groups_cluster_change", args=[prod.pk]), _cluster_form(prod, require_approval="on"))
    admin_site.post(reverse("admin:auth_group_add"), {"name": "auditors"})
    assert AuditEvent.objects.filter(action__startswith="admin_").count() == 2
    out = io.StringIO()
    call_command("verify_audit", stdout=out, stderr=io.StringIO())
    assert out.getvalue().startswith("Audit log intact: 2 events")
