"""The alert rule form: conditions, channels and scope, each error next to its field."""

from __future__ import annotations

import re
from typing import cast

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from groups import access
from groups.alerting import destinations, rules
from groups.models import AlertRule, Cluster
from groups.patterns import pattern_error

MAX_MINUTES = 7 * 24 * 60
CONDITION_FIELDS = ("statuses", "lag_seconds_over", "total_lag_over", "retention_margin_under_minutes", "no_members")


class AlertRuleForm(forms.ModelForm):
    name = forms.CharField(max_length=200, error_messages={"required": "Give the rule a name people will recognise."})
    group_pattern = forms.CharField(
        max_length=500,
        initial="*",
        label="Groups",
        help_text=AlertRule._meta.get_field("group_pattern").help_text,
        error_messages={"required": "Name a group, or a pattern such as payments-* (* for every group)."},
    )
    cluster = forms.ModelChoiceField(queryset=Cluster.objects.none(), required=False, empty_label="Every cluster")
    statuses = forms.MultipleChoiceField(
        choices=[(s, s) for s in rules.STATUSES],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Status is one of",
        help_text="the group's (OK, WARN, ERR, RESET) or a partition's behind it (STOP, STALL, REWIND, AHEAD)",
    )
    lag_seconds_over = forms.IntegerField(
        required=False, min_value=0, max_value=10**9, label="Lag in seconds over", help_text="seconds"
    )
    total_lag_over = forms.IntegerField(
        required=False, min_value=0, max_value=10**15, label="Total lag over", help_text="messages"
    )
    retention_margin_under_minutes = forms.IntegerField(
        required=False, min_value=1, max_value=30 * 24 * 60, label="Retention margin under", help_text="minutes"
    )
    for_minutes = forms.IntegerField(
        min_value=0,
        max_value=MAX_MINUTES,
        initial=0,
        label="For",
        help_text="minutes a condition must hold before the alert fires",
    )
    renotify_minutes = forms.IntegerField(
        min_value=0,
        max_value=MAX_MINUTES,
        initial=0,
        label="Notify again every",
        help_text="minutes while still firing; 0 for never",
    )
    webhook_url = forms.URLField(required=False, max_length=2000, assume_scheme="https", label="Webhook URL")
    emails = forms.CharField(
        required=False, max_length=2000, label="Email addresses", help_text="separated by commas or spaces"
    )

    class Meta:
        model = AlertRule
        fields = [
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
        ]

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        # The model's ForeignKey makes the field a ModelChoiceField; `fields` is typed by the base Field.
        clusters = cast(forms.ModelChoiceField, self.fields["cluster"])
        clusters.queryset = Cluster.objects.filter(
            pk__in=[c.pk for c in Cluster.objects.all() if access.allowed(user, "alert", c)]
        )
        if self.instance.pk is not None:
            self.initial["emails"] = ", ".join(self.instance.emails)

    def clean_group_pattern(self) -> str:
        pattern = self.cleaned_data["group_pattern"]
        if pattern_error(pattern):
            raise ValidationError(pattern_error(pattern))
        return pattern

    def clean_webhook_url(self) -> str:
        url = self.cleaned_data["webhook_url"]
        if url and not url.lower().startswith(("http://", "https://")):
            raise ValidationError("Use an http:// or https:// address.")
        if not url:
            return url
        try:
            refusal = destinations.link_local_refusal(url)
        except destinations.DestinationError as error:
            raise ValidationError(f"{error} The console posts to it, so it must resolve here.") from None
        if refusal:
            raise ValidationError(refusal)
        return url

    def clean_emails(self) -> list[str]:
        addresses = [a for a in re.split(r"[\s,;]+", self.cleaned_data["emails"]) if a]
        wrong = []
        for address in addresses:
            try:
                validate_email(address)
            except ValidationError:
                wrong.append(address)
        if wrong:
            raise ValidationError(f"Not an email address: {', '.join(wrong)}.")
        return list(dict.fromkeys(addresses))

    def clean(self):
        super().clean()
        data = self.cleaned_data
        if not any(data.get(name) not in (None, "", [], False) for name in CONDITION_FIELDS):
            raise ValidationError(
                "Choose at least one condition: a status, a lag, a retention margin or no members.", code="no_condition"
            )
        if "webhook_url" in data and "emails" in data and not data["webhook_url"] and not data["emails"]:
            self.add_error("webhook_url", "Give a webhook URL or at least one email address to notify.")
        if "group_pattern" in data and "cluster" in data:
            refusal = rules.scope_refusal(self.user, data["cluster"], data["group_pattern"])
            if refusal is not None:
                self.add_error(*refusal)
        return data
