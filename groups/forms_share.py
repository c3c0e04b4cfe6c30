"""What a person types to reset a share group's start offsets: a strategy, its value, the scope.

Only the writing is read here; what the request means is checked by `preview_share_reset`.
"""

from __future__ import annotations

from django import forms

from groups.forms import check_scope, check_value
from groups.operations.share_resets import SHARE_STRATEGIES, share_strategy

SHARE_VALUE_HINTS = [
    ("to-datetime", SHARE_STRATEGIES["to-datetime"], "ISO 8601, such as 2026-11-21T09:00:00.000 (UTC when no zone)"),
    ("to-offset", SHARE_STRATEGIES["to-offset"], "an offset, such as 1500 (clamped to each partition's log)"),
]
SHARE_SCOPE_CHOICES = [
    ("all", "All share-partitions the group has start offsets for"),
    ("topics", "Only these topics or partitions"),
]


class ShareResetForm(forms.Form):
    strategy = forms.ChoiceField(
        choices=list(SHARE_STRATEGIES.items()),
        error_messages={
            "invalid_choice": "'%(value)s' is no strategy for a share group: choose one of "
            f"{', '.join(SHARE_STRATEGIES)}."
        },
    )
    value = forms.CharField(required=False, max_length=500)
    scope_mode = forms.ChoiceField(choices=SHARE_SCOPE_CHOICES, initial="all", widget=forms.RadioSelect)
    scope = forms.CharField(
        required=False, max_length=5000, help_text="orders, or orders:0,2; several separated by spaces"
    )

    def clean(self):
        super().clean()
        data = self.cleaned_data
        if data.get("scope_mode") == "topics":
            check_scope(self, data.get("scope", ""), "or choose all share-partitions of the group.")
        strategy = data.get("strategy")
        if strategy and "value" in data:
            check_value(self, lambda: share_strategy(strategy, data["value"]))
        return data

    def request_fields(self) -> dict[str, str]:
        """What the preview plans from and the operation records: strategy, its value, the scope."""
        data = self.cleaned_data
        scope = data["scope"].strip() if data["scope_mode"] == "topics" else ""
        return {"strategy": data["strategy"], "value": data["value"], "scope": scope}

    @classmethod
    def for_request(cls, strategy: str, value: str, scope: str) -> ShareResetForm:
        """The form as it was filled for a preview."""
        return cls(
            initial={"strategy": strategy, "value": value, "scope_mode": "topics" if scope else "all", "scope": scope}
        )
