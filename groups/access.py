"""Who may do what on which cluster and group: roles, scoped grants, and the one place they are checked.

Views, the Celery task and management commands all ask `allowed` or `require` here; nothing else
reads grants. Superusers may do everything; an inactive or anonymous user may do nothing.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest

from groups import audit, patterns
from groups.models import ACTIONS, ROLES, AuditEvent, Cluster, Grant

# The smallest role that allows each action: what a refusal tells the person to ask for.
ROLE_NEEDED = {action: next(role for role, actions in ROLES.items() if action in actions) for action in ACTIONS}

_ON_GROUP = {
    "view": "view group '{group}'",
    "reset": "reset offsets of group '{group}'",
    "delete": "delete group '{group}' or its offsets",
    "approve": "approve operations on group '{group}'",
    "alert": "manage alert rules for groups '{group}'",
}
_WITHOUT_GROUP = {
    "view": "view consumer groups",
    "reset": "reset offsets",
    "replay": "replay records",
    "alert": "manage alert rules",
    "delete": "delete groups or their offsets",
    "approve": "approve operations",
    "audit": "review the audit log",
    "admin": "administer the console",
    "read_records": "read records of topics",
}
# Actions on topics, which no group pattern can scope: only a grant covering every group of the cluster allows them.
CLUSTER_WIDE = frozenset({"replay", "read_records"})


def _user(request_or_user: HttpRequest | User | AnonymousUser | None) -> User | AnonymousUser | None:
    return request_or_user.user if isinstance(request_or_user, HttpRequest) else request_or_user


def _grants(user: User, cluster: Cluster | None) -> list[Grant]:
    """The user's grants (their own and their groups') that apply on `cluster`, or on any when None.

    Read once per user object, as Django's ModelBackend keeps permissions (`_perm_cache`): a request
    loads its user afresh, and one page asks several questions (the page's right, the groups it may
    list, the header's links), each of which was a query.
    """
    grants = getattr(user, "_console_grants", None)
    if grants is None:
        # A join, not a subquery of user.groups (twice the time to build); no grant comes twice, since
        # a grant names a user or a group of users, never both, and a user is in a group once.
        grants = list(Grant.objects.filter(Q(user=user) | Q(user_group__user=user)))
        user._console_grants = grants  # type: ignore[attr-defined]
    if cluster is None:
        return grants
    return [grant for grant in grants if grant.cluster_id is None or grant.cluster_id == cluster.pk]


def _grants_action(grant: Grant, action: str) -> bool:
    return action in (ROLES[grant.role] if grant.role else set(grant.actions))


def pattern_matches(pattern: str, group_id: str) -> bool:
    """Whether a grant's (or an alert rule's) group pattern covers `group_id`."""
    # An exact name is compared as such, so a group id with glob characters ([, ?, *) matches itself.
    return pattern == group_id or fnmatchcase(group_id, pattern)


def _has_glob(pattern: str) -> bool:
    return any(char in pattern for char in "*?[")


def pattern_within(pattern: str, outer: str) -> bool:
    """Whether every group id `pattern` matches is also matched by `outer`, told conservatively.

    Exact: `*` holds everything, a pattern holds itself and the ids it matches; `payments-*` holds
    any pattern starting with `payments-` (`payments-eu-*`). Any other pair is refused, since
    deciding inclusion between arbitrary globs is not worth the surprise of a wrong answer.
    """
    if outer == "*" or pattern == outer:
        return True
    if not _has_glob(pattern):
        return pattern_matches(outer, pattern)
    prefix = outer[:-1]
    return outer.endswith("*") and not _has_glob(prefix) and pattern.startswith(prefix)


def _covers(grant: Grant, group_id: str | None) -> bool:
    return group_id is None or pattern_matches(grant.group_pattern, group_id)


def _matching_grants(user, action: str, cluster: Cluster | None) -> list[Grant] | None:
    """The user's grants of `action` that apply on `cluster`; None when no grant is needed (superuser)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return []
    if user.is_superuser:
        return None
    return [grant for grant in _grants(user, cluster) if _grants_action(grant, action)]


def allowed(user, action: str, cluster: Cluster | None = None, group_id: str | None = None) -> bool:
    """Whether `user` may do `action` on `group_id` of `cluster`.

    `cluster` None means on any cluster (or an action that belongs to none, like "audit");
    `group_id` None means on some group of that cluster, which is what showing the cluster needs.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
    grants = _matching_grants(user, action, cluster)
    if action in CLUSTER_WIDE:
        # A replay copies records between topics and a read shows them: a grant on some groups says
        # nothing about which topics, so only a grant covering every group of the cluster allows either.
        return grants is None or any(grant.group_pattern == "*" for grant in grants)
    return grants is None or any(_covers(grant, group_id) for grant in grants)


def audit_scope(user) -> Q | None:
    """Which audit events `user` may review: None for all of them, else a filter on AuditEvent.

    An `audit` grant on every cluster and group (cluster unset, pattern `*`) shows the whole log,
    logins and cluster-less events included; narrower grants show the events of their cluster
    and groups only.
    """
    grants = _matching_grants(user, "audit", None)
    if grants is None or any(g.cluster_id is None and g.group_pattern == "*" for g in grants):
        return None
    scope = Q(pk__in=[])
    for grant in grants:
        on_cluster = Q(cluster=grant.cluster.name) if grant.cluster is not None else ~Q(cluster="")
        if grant.group_pattern != "*":
            on_cluster &= Q(group_id=grant.group_pattern) | Q(group_id__regex=patterns.glob_regex(grant.group_pattern))
        scope |= on_cluster
    return scope


def groups_allowed(user, action: str, cluster: Cluster, group_ids) -> list[str]:
    """The ids among `group_ids` on which `user` may do `action` on `cluster`, in their order (one query)."""
    grants = _matching_grants(user, action, cluster)
    if grants is None:
        return list(group_ids)
    return [group_id for group_id in group_ids if any(_covers(grant, group_id) for grant in grants)]


def alert_rule_scope(user):
    """A test `(cluster_id or None, pattern) -> bool`: whether `user` may manage an alert rule on that
    cluster (None: every cluster) for that group pattern. Grants are read once, here.

    A rule must lie within one `alert` grant: a rule on every cluster needs a grant on every cluster,
    and its pattern must lie within the grant's (see `pattern_within`).
    """
    grants = _matching_grants(user, "alert", None)
    if grants is None:
        return lambda cluster_id, pattern: True
    return lambda cluster_id, pattern: any(
        (grant.cluster_id is None or grant.cluster_id == cluster_id) and pattern_within(pattern, grant.group_pattern)
        for grant in grants
    )


def rule_reader_scope(user):
    """A test `(cluster_id or None, pattern) -> bool`: whether an alert rule on that cluster (None: every
    cluster) for that group pattern concerns groups `user` may view, so that they may read it. It does when,
    on a cluster it covers, one of their `view` grants holds its pattern, or its pattern holds all of the
    grant's groups (a rule on every group concerns theirs too); told conservatively, as `pattern_within` is.
    """
    grants = _matching_grants(user, "view", None)
    if grants is None:
        return lambda cluster_id, pattern: True
    return lambda cluster_id, pattern: any(
        (grant.cluster_id is None or cluster_id is None or grant.cluster_id == cluster_id)
        and (pattern_within(pattern, grant.group_pattern) or pattern_within(grant.group_pattern, pattern))
        for grant in grants
    )


def view_scope(user, cluster: Cluster) -> Q | None:
    """The groups `user` may view on `cluster`, as a filter on a `group_id` field; None for all of them.

    What `visible_groups` tells of a list of ids, told to the database, so a page of a snapshot's
    10,000 groups is filtered, counted and sliced there.
    """
    grants = _matching_grants(user, "view", cluster)
    if grants is None or any(grant.group_pattern == "*" for grant in grants):
        return None
    scope = Q(pk__in=[])
    for grant in grants:
        # (?s): a `*` of fnmatch also matches a newline, which group ids may hold.
        scope |= Q(group_id=grant.group_pattern) | Q(group_id__regex="(?s)" + patterns.glob_regex(grant.group_pattern))
    return scope


def visible_groups(user, cluster: Cluster, group_ids) -> list[str]:
    """The ids among `group_ids` that `user` may view on `cluster`, in their order (one query)."""
    return groups_allowed(user, "view", cluster, group_ids)


def refusal(action: str, cluster: Cluster | None = None, group_id: str | None = None, *, who: str = "You") -> str:
    """What a person is told when `action` is refused to `who`, and what to ask for."""
    # An empty group id is no group's: what a replay's operation carries, whose right is on the cluster.
    what = _ON_GROUP[action].format(group=group_id) if group_id and action in _ON_GROUP else _WITHOUT_GROUP[action]
    where = f" on cluster '{cluster.name}'" if cluster is not None else ""
    on_it = " on it" if cluster is not None or group_id is not None else ""
    return f"{who} may not {what}{where}: ask an admin for the {ROLE_NEEDED[action]} role{on_it}."


def require(
    request_or_user,
    action: str,
    cluster: Cluster | None = None,
    group_id: str | None = None,
    *,
    source_ip: str | None = None,
    topic: str = "",
) -> None:
    """Raise PermissionDenied saying what is missing, and record the denial, unless `allowed`.

    `topic` names the topic a refused request was about, for the audit log."""
    user = _user(request_or_user)
    if allowed(user, action, cluster, group_id):
        return
    if source_ip is None and isinstance(request_or_user, HttpRequest):
        source_ip = audit.source_ip(request_or_user)
    message = refusal(action, cluster, group_id)
    actor = user.username if user is not None and user.is_authenticated else "anonymous"
    audit.record(
        AuditEvent.Action.DENIED,
        actor=actor,
        cluster=cluster.name if cluster else "",
        group_id=group_id or "",
        outcome="denied",
        error=message,
        source_ip=source_ip,
        topics=[topic] if topic else [],
    )
    raise PermissionDenied(message)


DEMO_USERS = {"Viewer": "viewer", "Operator": "operator", "Approver": "approver", "Admin": "admin"}


def ensure_demo_users(password: str) -> dict[str, str]:
    """Users viewer, operator, approver and admin, each with its role on every cluster and group.

    Safe to call again: the password is reset and a missing grant is added. `admin` also gets
    Django admin (staff and superuser), where grants are managed.
    """
    with transaction.atomic():
        for role, username in DEMO_USERS.items():
            user, _ = User.objects.get_or_create(username=username)
            user.is_active = True
            user.is_staff = user.is_superuser = role == "Admin"
            user.set_password(password)
            user.save()
            Grant.objects.get_or_create(user=user, role=role, cluster=None, group_pattern="*")
    return dict(DEMO_USERS)
