"""Alert rules: who may manage which, what a rule means to the state machine, and every change audited."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.core.exceptions import PermissionDenied
from django.db import transaction

from groups import access, audit
from groups.alerting.machine import Conditions
from groups.chart_scales import duration_text
from groups.models import AlertRule, AuditEvent, Cluster

# The fields a change is described by in the audit log, in the order a reader expects them.
AUDITED_FIELDS = (
    "name",
    "cluster",
    "group_pattern",
    "statuses",
    "lag_seconds_over",
    "total_lag_over",
    "retention_margin_under_minutes",
    "no_members",
    "for_minutes",
    "webhook_url",
    "webhook_format",
    "emails",
    "renotify_minutes",
    "enabled",
)
# Status names the collector reports (groups.status.Status, Burrow's rules plus the console's own).
STATUSES = ("OK", "NEW", "WARN", "ERR", "STOP", "STALL", "REWIND", "RESET", "AHEAD")


def conditions_of(rule: AlertRule) -> Conditions:
    return Conditions(
        statuses=frozenset(rule.statuses),
        lag_seconds_over=rule.lag_seconds_over,
        total_lag_over=rule.total_lag_over,
        retention_margin_under_s=(
            rule.retention_margin_under_minutes * 60 if rule.retention_margin_under_minutes is not None else None
        ),
        no_members=rule.no_members,
        for_s=rule.for_minutes * 60,
        renotify_s=rule.renotify_minutes * 60,
    )


def condition_texts(rule: AlertRule) -> list[str]:
    """The rule's conditions in words, as the pages and the audit log show them."""
    texts = []
    if rule.statuses:
        texts.append(f"status is {' or '.join(rule.statuses)}")
    if rule.lag_seconds_over is not None:
        texts.append(f"lag over {duration_text(rule.lag_seconds_over)}")
    if rule.total_lag_over is not None:
        texts.append(f"total lag over {rule.total_lag_over:,} messages")
    if rule.retention_margin_under_minutes is not None:
        texts.append(f"retention margin under {rule.retention_margin_under_minutes} min")
    if rule.no_members:
        texts.append("no members")
    return texts


def _field_text(rule: AlertRule, field: str) -> str:
    value = getattr(rule, field)
    if field == "cluster":
        return value.name if value is not None else "every cluster"
    if isinstance(value, list):
        return ", ".join(value) or "none"
    return "none" if value in (None, "") else str(value)


def snapshot(rule: AlertRule) -> dict[str, str]:
    """The rule's audited fields as text, to tell what a change changed."""
    return {field: _field_text(rule, field) for field in AUDITED_FIELDS}


def describe(rule: AlertRule) -> str:
    values = snapshot(rule)
    return "; ".join(f"{field.replace('_', ' ')}: {values[field]}" for field in AUDITED_FIELDS)


def scope_refusal(user, cluster: Cluster | None, pattern: str) -> tuple[str, str] | None:
    """Why `user` may not manage a rule on `cluster` (None: every cluster) for `pattern`, as (the form
    field to blame, the message); None if they may."""
    if access.alert_rule_scope(user)(cluster.pk if cluster is not None else None, pattern):
        return None
    if cluster is None and access.allowed(user, "alert"):
        return "cluster", (
            "You may manage alert rules only on the clusters of your grants: choose a cluster, or "
            f"ask an admin for the {access.ROLE_NEEDED['alert']} role on every cluster."
        )
    return "group_pattern", access.refusal("alert", cluster, pattern)


def _require_scope(user, cluster: Cluster | None, pattern: str, source_ip: str | None) -> None:
    refusal = scope_refusal(user, cluster, pattern)
    if refusal is not None:
        audit.record(
            AuditEvent.Action.DENIED,
            actor=user.username,
            cluster=cluster.name if cluster else "",
            group_id=pattern,
            outcome="denied",
            error=refusal[1],
            source_ip=source_ip,
        )
        raise PermissionDenied(refusal[1])


def require_manageable(request, rule: AlertRule) -> None:
    """Raise PermissionDenied (recorded) unless the signed-in user may manage `rule` as it stands."""
    _require_scope(request.user, rule.cluster, rule.group_pattern, audit.source_ip(request))


def readable_rules(user) -> list[tuple[AlertRule, bool]]:
    """The rules `user` may read, each with whether they may also manage it: those within their `alert`
    grants, and, read-only, those that concern groups they may view (`access.rule_reader_scope`)."""
    manages, concerns = access.alert_rule_scope(user), access.rule_reader_scope(user)
    readable = []
    for rule in AlertRule.objects.select_related("cluster"):
        manageable = manages(rule.cluster_id, rule.group_pattern)
        if manageable or concerns(rule.cluster_id, rule.group_pattern):
            readable.append((rule, manageable))
    return readable


def webhook_shown(rule: AlertRule, manageable: bool) -> str:
    """The rule's webhook as the rule list shows it: whole to whoever may manage the rule; to a reader only
    its scheme and host, since the rest often is the receiver's secret (a Slack webhook's path is)."""
    if manageable or not rule.webhook_url:
        return rule.webhook_url
    parts = urlsplit(rule.webhook_url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/…"


def save_rule(rule: AlertRule, *, user, before: dict[str, str] | None, source_ip: str | None = None) -> AlertRule:
    """Create or change a rule within the user's `alert` grants, and audit it.

    `before` is `snapshot(rule)` as it was before the form changed it (None for a new rule); a change
    is recorded with what it changed, field by field. The caller checked the old scope already.
    """
    _require_scope(user, rule.cluster, rule.group_pattern, source_ip)
    created = rule.pk is None
    with transaction.atomic():
        if created:
            rule.created_by = user
        rule.save()
        after = snapshot(rule)
        if created:
            reason = f"created rule #{rule.pk}: {describe(rule)}"
        else:
            if before is None:
                raise ValueError(f"changing rule #{rule.pk} needs `before`, its snapshot before the form changed it")
            changes = [
                f"{field.replace('_', ' ')}: {before[field]} → {after[field]}"
                for field in AUDITED_FIELDS
                if before[field] != after[field]
            ]
            reason = f"changed rule #{rule.pk} ({rule.name}): " + ("; ".join(changes) or "nothing")
        audit.record(
            AuditEvent.Action.ALERT_RULE_CREATED if created else AuditEvent.Action.ALERT_RULE_CHANGED,
            actor=user.username,
            cluster=rule.cluster.name if rule.cluster else "",
            group_id=rule.group_pattern,
            reason=reason,
            outcome="succeeded",
            source_ip=source_ip,
        )
    return rule


def delete_rule(rule: AlertRule, *, user, source_ip: str | None = None) -> None:
    """Delete a rule with its alerts and pending notifications, and audit it."""
    _require_scope(user, rule.cluster, rule.group_pattern, source_ip)
    with transaction.atomic():
        reason = f"deleted rule #{rule.pk}: {describe(rule)}"
        rule.delete()
        audit.record(
            AuditEvent.Action.ALERT_RULE_DELETED,
            actor=user.username,
            cluster=rule.cluster.name if rule.cluster else "",
            group_id=rule.group_pattern,
            reason=reason,
            outcome="succeeded",
            source_ip=source_ip,
        )
