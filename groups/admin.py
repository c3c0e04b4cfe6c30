from django import forms
from django.contrib import admin
from django.contrib.auth import admin as auth_admin
from django.contrib.auth.models import Group, User

from groups.admin_audit import AuditedAdmin
from groups.models import ACTIONS, ApiToken, AuditEvent, Cluster, Grant, Operation


@admin.register(Cluster)
class ClusterAdmin(AuditedAdmin):
    list_display = ["name", "bootstrap_servers", "security_protocol", "sasl_mechanism", "require_approval"]
    search_fields = ["name", "bootstrap_servers"]


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only by the console's own code paths: the admin shows them and changes nothing."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["id", "time", "actor", "action", "outcome", "cluster", "group_id", "operation"]
    list_filter = ["action", "outcome", "cluster", "time"]
    search_fields = ["actor", "group_id", "reason"]
    date_hierarchy = "time"
    list_select_related = ["operation"]


@admin.register(Operation)
class OperationAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "cluster", "group_id", "status", "requester", "created", "finished"]
    list_filter = ["kind", "status", "cluster", "created"]
    search_fields = ["group_id", "reason"]
    date_hierarchy = "created"
    list_select_related = ["cluster", "requester"]


class GrantForm(forms.ModelForm):
    actions = forms.MultipleChoiceField(
        choices=[(a, a) for a in ACTIONS],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Only when no role is chosen: exactly these actions.",
    )

    class Meta:
        model = Grant
        fields = ["user", "user_group", "role", "actions", "cluster", "group_pattern"]


@admin.register(Grant)
class GrantAdmin(AuditedAdmin):
    form = GrantForm
    list_display = ["__str__", "user", "user_group", "role", "actions", "cluster", "group_pattern", "created"]
    list_filter = ["role", "cluster"]
    search_fields = ["user__username", "user_group__name", "group_pattern"]
    list_select_related = ["user", "user_group", "cluster"]


@admin.register(ApiToken)
class ApiTokenAdmin(AuditedAdmin):
    """Keys are created by their owner on the API token page; here an admin sees and revokes them."""

    list_display = ["user", "created", "last_used"]
    fields = ("user", "created", "last_used")
    readonly_fields = fields
    search_fields = ["user__username"]

    def has_add_permission(self, request) -> bool:
        return False


# Django's own user and group pages, with their changes recorded in the audit log like the console's rows.
admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class UserAdmin(AuditedAdmin, auth_admin.UserAdmin):
    pass


@admin.register(Group)
class GroupAdmin(AuditedAdmin, auth_admin.GroupAdmin):
    pass
