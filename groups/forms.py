from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm

from groups import logins
from groups.operations import resets

# What the value field takes, per strategy that needs one (labels as the strategy select shows them).
VALUE_HINTS = [
    (resets.STRATEGIES["to-offset"], "an offset, such as 1500 (clamped to each partition's log)"),
    (resets.STRATEGIES["shift-by"], "±N, such as -100 to re-consume 100 records or +50 to skip 50"),
    (resets.STRATEGIES["to-datetime"],
     "ISO 8601, such as 2026-11-21T09:00:00.000 (UTC when no zone) or 2026-11-21T09:00:00+02:00"),
    (resets.STRATEGIES["by-duration"], "how long ago, such as PT15M, P1D, 15m or 2h"),
    (resets.STRATEGIES["from-group"], "the id of the group whose committed offsets to copy"),
    (resets.STRATEGIES["from-file"],
     "choose the CSV file below (lines of topic,partition,offset or group,topic,partition,offset)"),
]
SCOPE_CHOICES = [("all", "All topics with committed offsets"), ("topics", "Only these topics or partitions")]


def error_text(form: forms.Form) -> str:
    """The form's errors as one line, each field's prefixed with its label so two alike read apart."""
    parts = []
    for name, messages in form.errors.items():
        field = form.fields.get(name)
        label = (field.label or name.replace("_", " ").capitalize()) if field is not None else None
        parts.extend(f"{label}: {message}" if label else message for message in messages)
    return " ".join(parts)


class ResetForm(forms.Form):
    strategy = forms.ChoiceField(choices=list(resets.STRATEGIES.items()))
    value = forms.CharField(required=False, max_length=500)
    file = forms.FileField(required=False, label="Reset file (CSV)")
    scope_mode = forms.ChoiceField(choices=SCOPE_CHOICES, initial="all", widget=forms.RadioSelect)
    scope = forms.CharField(required=False, max_length=5000,
                            help_text="orders, or orders:0,2; several separated by spaces")

    def clean(self):
        data = super().clean()
        from_file = data.get("strategy") == "from-file"
        if data.get("scope_mode") == "topics" and not data.get("scope", "").strip() and not from_file:
            raise forms.ValidationError(
                "Name at least one topic, such as orders, or partitions, such as orders:0,2, "
                "or choose all topics with committed offsets."
            )
        if from_file:
            data["value"] = self._file_text(data.get("file"))
        return data

    @staticmethod
    def _file_text(upload) -> str:
        if upload is None:
            raise forms.ValidationError("Choose the reset file to upload: the File strategy reads its offsets from it.")
        try:
            return upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise forms.ValidationError("The reset file is not UTF-8 text; export it again as CSV.") from None

    def request_fields(self) -> dict[str, str]:
        """What the preview plans from and the operation records: strategy, its value, the scope."""
        data = self.cleaned_data
        # The file names its partitions itself, so a scope typed alongside would only mislead the record.
        use_scope = data["scope_mode"] == "topics" and data["strategy"] != "from-file"
        scope = data["scope"].strip() if use_scope else ""
        return {"strategy": data["strategy"], "value": data["value"], "scope": scope}

    @classmethod
    def for_request(cls, strategy: str, value: str, scope: str) -> ResetForm:
        """The form as it was filled for a preview (a file cannot be re-filled, so neither is its text)."""
        return cls(initial={"strategy": strategy, "value": "" if strategy == "from-file" else value,
                            "scope_mode": "topics" if scope else "all", "scope": scope})


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 80}), max_length=2000,
                             error_messages={"required": "Say why: a reason is required for every change."})


class ConfirmForm(ReasonForm):
    token = forms.CharField(widget=forms.HiddenInput)


class LoginForm(AuthenticationForm):
    """Django's sign-in form, refusing attempts while the username or address must wait or is locked out."""

    def clean(self):
        username = self.cleaned_data.get("username")
        if not username or not self.cleaned_data.get("password"):
            return super().clean()
        source_ip = self.request.META.get("REMOTE_ADDR")
        retry = logins.retry_at(username, source_ip)
        if retry is not None:
            raise forms.ValidationError(logins.refuse(username, source_ip, retry), code="throttled")
        try:
            return super().clean()
        except forms.ValidationError as error:
            logins.record_failure(username, source_ip, " ".join(error.messages))
            raise
