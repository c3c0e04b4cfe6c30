"""Changes made in Django admin, recorded in the console's hash-chained audit log.

Grants, users (their groups, staff and superuser flags, passwords), groups of users, clusters (the
four-eyes switch among them) and API tokens decide who may do what, so a change to any of them is an
event like a reset. Django admin's own LogEntry is not enough: it lives in a table anyone with the
database can edit, and it names the fields that changed without their values.

A ModelAdmin mixin, not a signal on LogEntry, does the recording: only the admin's form knows the values
before and after (a LogEntry never had them), and which fields are secrets. Each event is written in the
admin's own transaction, right after the change is saved. A secret (a password, a token's hash) is named
as changed, never written.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from groups import audit
from groups.models import AuditEvent, Cluster, Grant

# Form fields whose values are never written to the log, only that they changed.
SECRET_FIELDS = frozenset({"password", "password1", "password2", "usable_password", "set_usable_password", "key_hash"})
# A value longer than this is cut (a long bootstrap list stays readable in a list of changes).
VALUE_SHOWN = 200


def _text(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple | set | QuerySet):  # a many-to-many's initial list or cleaned queryset
        return ", ".join(sorted(str(item) for item in value)) or "none"
    text = str(value)
    return text if len(text) <= VALUE_SHOWN else text[: VALUE_SHOWN - 1] + "…"


def _initial(field: forms.Field | None, value: Any) -> Any:
    """A form's initial value as the object it names: a model form holds a foreign key's initial as its id."""
    if isinstance(field, forms.ModelMultipleChoiceField) or not isinstance(field, forms.ModelChoiceField):
        return value
    if field.queryset is None or value is None or isinstance(value, Model):
        return value
    return field.queryset.filter(pk=value).first()


def _label(form: forms.BaseForm, name: str) -> str:
    field = form.fields.get(name)
    label = field.label if field is not None and field.label else name.replace("_", " ")
    return str(label).lower()


def describe_changes(form: forms.BaseForm, add: bool) -> list[str]:
    """'label: before → after' for each field the form changed ('label: value' when adding); secrets named only."""
    changes, secret = [], False
    for name in form.changed_data:
        if name in SECRET_FIELDS:
            secret = True
            continue
        field = form.fields.get(name)
        after = _text(form.cleaned_data.get(name))
        if add:
            changes.append(f"{_label(form, name)}: {after}")
        else:
            changes.append(f"{_label(form, name)}: {_text(_initial(field, form.initial.get(name)))} → {after}")
    if secret:
        changes.append("password: set (never recorded)")
    return changes


def _where(obj: Model) -> tuple[str, str]:
    """The cluster and group (pattern) an object concerns, so reviewers scoped to them see its changes."""
    if isinstance(obj, Cluster):
        return obj.name, ""
    if isinstance(obj, Grant):
        return (obj.cluster.name if obj.cluster else ""), obj.group_pattern
    return "", ""


def _record(request: HttpRequest, action: AuditEvent.Action, obj: Model, text: str) -> None:
    cluster, group = _where(obj)
    audit.record(
        action,
        actor=request.user.get_username(),
        source_ip=audit.source_ip(request),
        cluster=cluster,
        group_id=group,
        reason=text,
        outcome="succeeded",
    )


def _grants_going_with(obj: Model) -> list[Grant]:
    """Grants a deletion takes with it (they cascade from their user, group of users or cluster)."""
    field = {User: "user", Group: "user_group", Cluster: "cluster"}.get(type(obj))
    return list(Grant.objects.filter(**{field: obj}).select_related("user", "user_group", "cluster")) if field else []


def _name(obj: Model) -> str:
    return f"{obj._meta.verbose_name} '{obj}'"


class AuditedAdmin(admin.ModelAdmin):
    """A ModelAdmin whose additions, changes (password changes included) and deletions reach the audit log."""

    def construct_change_message(self, request, form, formsets, add=False):
        # Django calls this after saving the object and its many-to-many fields, and before logging it, on
        # every path that changes an object: the add and change forms, list_editable, and a user's password.
        message = super().construct_change_message(request, form, formsets, add)
        obj = form.instance if isinstance(form, forms.ModelForm) else form.user
        changes = describe_changes(form, add)
        # Saving a form unchanged changes nothing to record.
        if add or changes:
            verb = "added" if add else "changed"
            _record(
                request,
                AuditEvent.Action.ADMIN_ADDED if add else AuditEvent.Action.ADMIN_CHANGED,
                obj,
                f"{verb} {_name(obj)}: {'; '.join(changes) or 'nothing'}",
            )
        return message

    def log_deletions(self, request, queryset: QuerySet):
        # Called before the deletion, for the delete page and the bulk action alike, so cascades can be named.
        for obj in queryset:
            grants = _grants_going_with(obj)
            with_grants = f", with its grants: {'; '.join(str(grant) for grant in grants)}" if grants else ""
            _record(request, AuditEvent.Action.ADMIN_DELETED, obj, f"deleted {_name(obj)}{with_grants}")
        return super().log_deletions(request, queryset)
