"""What a person ticks and types to delete a group's offsets, read into the `--topic` scope the preview plans."""

from __future__ import annotations

from django import forms

from groups.planning.deletions import scope_text
from groups.planning.resets import PlanningError, parse_scope


class CheckedNames(forms.MultipleChoiceField):
    """The values of ticked boxes, as sent.

    The boxes list what the group had offsets on when the page was drawn; whether what they name
    still exists is for the preview to check against Kafka, which says what is wrong.
    """

    def valid_value(self, value: str) -> bool:
        return True


class OffsetDeletionForm(forms.Form):
    topics = CheckedNames(required=False, label="Whole topics")
    partitions = CheckedNames(required=False, label="Partitions")
    scope = forms.CharField(
        required=False,
        max_length=5000,
        label="Other topics or partitions",
        help_text="as kafka-consumer-groups --topic takes them: orders, or orders:0,2; several separated by spaces",
    )

    def clean(self):
        super().clean()
        data = self.cleaned_data
        if self.errors:
            return data
        if data["scope"].strip():
            try:
                parse_scope(data["scope"])
            except PlanningError as error:
                self.add_error("scope", str(error))
                return data
        try:
            data["scope_text"] = scope_text(data["topics"], data["partitions"], data["scope"])
        except PlanningError as error:
            raise forms.ValidationError(str(error)) from None
        if not data["scope_text"]:
            raise forms.ValidationError("Choose at least one topic or partition, or name them in the text field.")
        return data
