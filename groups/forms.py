"""What a person types, read into requests: the reset, replay, reason, deletion, preferences and sign-in forms.

Only the writing is read here: numbers, from-to pairs, dates, name=value, each mistake told by the
field it is in. What a request means and what needs the cluster is checked by the operations
(`preview_reset`, `preview_replay`), for the web and the commands alike.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from django import forms
from django.contrib.auth.forms import AuthenticationForm

from groups import audit, logins
from groups.models import UserPreferences
from groups.operations import resets
from groups.planning import inputs
from groups.planning.replays import ReplayError, ReplayRequest, listed
from groups.planning.resets import PlanningError, parse_scope
from groups.planning.time_text import format_time_ms

# What the value field takes, per strategy that needs one: (strategy, its label as the select shows it, hint).
VALUE_HINTS = [
    (key, resets.STRATEGIES[key], hint)
    for key, hint in [
        ("to-offset", "an offset, such as 1500 (clamped to each partition's log)"),
        ("shift-by", "±N, such as -100 to re-consume 100 records or +50 to skip 50"),
        (
            "to-datetime",
            "ISO 8601, such as 2026-11-21T09:00:00.000 (UTC when no zone) or 2026-11-21T09:00:00+02:00",
        ),
        ("by-duration", "how long ago, such as PT15M, P1D, 15m or 2h"),
        ("from-group", "the id of the group whose committed offsets to copy"),
        (
            "from-file",
            "choose the CSV file below (lines of topic,partition,offset or group,topic,partition,offset)",
        ),
    ]
]
NEEDS_VALUE_HINT = {key: (label, hint) for key, label, hint in VALUE_HINTS}
SCOPE_CHOICES = [("all", "All topics with committed offsets"), ("topics", "Only these topics or partitions")]


def error_text(form: forms.Form) -> str:
    """The form's errors as one line, each field's prefixed with its label so two alike read apart."""
    parts: list[str] = []
    for name, messages in form.errors.items():
        field = form.fields.get(name)
        label = (field.label or name.replace("_", " ").capitalize()) if field is not None else None
        parts.extend(f"{label}: {message}" if label else str(message) for message in messages)
    return " ".join(parts)


def check_scope(form: forms.Form, text: str, otherwise: str) -> None:
    """Tell a missing or unreadable --topic scope next to the scope field."""
    if not text.strip():
        form.add_error(
            "scope", f"Name at least one topic, such as orders, or partitions, such as orders:0,2, {otherwise}"
        )
        return
    try:
        parse_scope(text)
    except PlanningError as error:
        form.add_error("scope", str(error))


def check_value(form: forms.Form, read: Callable[[], object]) -> None:
    """Tell a strategy value that does not read next to the value field (it needs no cluster to read)."""
    try:
        read()
    except PlanningError as error:
        form.add_error("value", str(error))


class ResetForm(forms.Form):
    strategy = forms.ChoiceField(
        choices=list(resets.STRATEGIES.items()),
        error_messages={"invalid_choice": f"'%(value)s' is no strategy: choose one of {', '.join(resets.STRATEGIES)}."},
    )
    value = forms.CharField(required=False, max_length=500)
    file = forms.FileField(required=False, label="Reset file (CSV)")
    scope_mode = forms.ChoiceField(choices=SCOPE_CHOICES, initial="all", widget=forms.RadioSelect)
    scope = forms.CharField(
        required=False, max_length=5000, help_text="orders, or orders:0,2; several separated by spaces"
    )

    def clean(self):
        super().clean()
        data = self.cleaned_data
        strategy = data.get("strategy")
        from_file = strategy == "from-file"
        if data.get("scope_mode") == "topics" and not from_file:
            check_scope(self, data.get("scope", ""), "or choose all topics with committed offsets.")
        if from_file and "file" not in self.errors:  # an empty upload is told once, by the field
            try:
                data["value"] = self._file_text(data.get("file"))
            except forms.ValidationError as error:
                self.add_error("file", error)
        elif strategy in NEEDS_VALUE_HINT and not data.get("value", "").strip():
            label, hint = NEEDS_VALUE_HINT[strategy]
            self.add_error("value", f"The strategy '{label}' needs a value: {hint}.")
        elif strategy and "value" in data:
            check_value(self, lambda: resets.strategy_from_value(strategy, data["value"]))
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
        return cls(
            initial={
                "strategy": strategy,
                "value": "" if strategy == "from-file" else value,
                "scope_mode": "topics" if scope else "all",
                "scope": scope,
            }
        )


class PreferencesForm(forms.Form):
    times = forms.ChoiceField(
        choices=[("local", "In my browser's time zone, with UTC on hover"), ("utc", "In UTC")],
        widget=forms.RadioSelect,
        label="Show times",
    )

    @classmethod
    def for_user(cls, preferences: UserPreferences, data=None) -> PreferencesForm:
        return cls(data, initial={"times": "utc" if preferences.times_in_utc else "local"})

    def save(self, preferences: UserPreferences) -> None:
        preferences.times_in_utc = self.cleaned_data["times"] == "utc"
        preferences.save()


class ReasonForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        max_length=2000,
        error_messages={"required": "Say why: a reason is required for every change."},
    )


# A streams group's reset or deletion may delete its application's internal topics too; off unless ticked.
DELETE_INTERNAL_TOPICS = "Also delete the application's internal topics"


class DeleteGroupForm(ReasonForm):
    """A deletion is undone only while no one re-creates the group, and a streams group's not at all, so the group's
    id is typed, as a deliberate act, before it is asked for.

    For a streams group, `internal_topics_seen` carries the internal topics the page listed, so that the
    deletion of exactly those is asked for (`internal_topics_text`)."""

    confirm_group = forms.CharField(max_length=255, strip=False, label="Type the group id to confirm")
    delete_internal_topics = forms.BooleanField(required=False, label=DELETE_INTERNAL_TOPICS)
    internal_topics_seen = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, group_id: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.group_id = group_id
        self.fields["confirm_group"].widget.attrs.update(autocomplete="off", spellcheck="false")
        self.fields["confirm_group"].error_messages["required"] = (
            f"Type the group id, {group_id}, to confirm that this is the group to delete."
        )

    def clean_confirm_group(self) -> str:
        typed = self.cleaned_data["confirm_group"]
        if typed != self.group_id:
            raise forms.ValidationError(
                f"'{typed}' is not this group's id: type {self.group_id} exactly to delete it, or go back."
            )
        return typed


class ConfirmForm(ReasonForm):
    token = forms.CharField(widget=forms.HiddenInput)


class ResetConfirmForm(ConfirmForm):
    delete_internal_topics = forms.BooleanField(required=False, label=DELETE_INTERNAL_TOPICS)


def internal_topics_text(rows: list[dict]) -> str:
    """Internal topics (rows of topic and partitions) as one line a page carries and compares: `a:2 b:1`."""
    return " ".join(f"{row['topic']}:{row['partitions']}" for row in rows)


class LoginForm(AuthenticationForm):
    """Django's sign-in form, refusing attempts while the username or address must wait or is locked out."""

    def clean(self):
        username = self.cleaned_data.get("username")
        if not username or not self.cleaned_data.get("password"):
            return super().clean()
        source_ip = audit.source_ip(self.request) if self.request is not None else None
        retry = logins.retry_at(username, source_ip)
        if retry is not None:
            raise forms.ValidationError(logins.refuse(username, source_ip, retry), code="throttled")
        try:
            return super().clean()
        except forms.ValidationError as error:
            logins.record_failure(username, source_ip, " ".join(error.messages))
            raise


PARTITION_CHOICES = [("all", "All partitions"), ("some", "Only these partitions")]
RANGE_CHOICES = [("offsets", "By offsets [from, to)"), ("time", "By time window [from, to)")]
KEY_FILTERS = [("none", "Any key"), ("equals", "Key equals"), ("regex", "Key matches the regular expression")]
HEADER_FILTERS = [("none", "Any headers"), ("present", "Header present"), ("equals", "Header equals")]
PARTITIONING_CHOICES = [
    ("same", "Same partition number (the target needs at least as many partitions)"),
    ("key-hash", "By key hash (the default partitioner)"),
]
TIMESTAMP_CHOICES = [("keep", "Keep the original timestamps"), ("now", "Stamp the copies now")]
DELIVERY_CHOICES = [
    (
        "exactly-once",
        "Exactly once (transactions: a read_committed reader sees each record once, even if the worker dies)",
    ),
    (
        "at-least-once",
        "At least once (no transactions, faster: a worker that dies mid-copy may leave the "
        "records since its last checkpoint copied twice)",
    ),
]

_RANGE = re.compile(r"\s*(\d+)\s*-\s*(\d+)\s*")
_PARTITION_RANGE = re.compile(r"\s*(\d+)\s*:\s*(\d+)\s*-\s*(\d+)\s*")
RANGE_FORM = "from-to such as 100-200 for every chosen partition, or partition:from-to pairs such as 0:100-200, 1:0-50"


def parse_partitions(text: str) -> tuple[int, ...]:
    """'0,2, 5' -> (0, 2, 5)."""
    names = [part for part in re.split(r"[\s,]+", text.strip()) if part]
    if not names:
        raise ReplayError("Name the partitions to replay, such as 0,2,5, or choose all partitions.")
    # isdecimal on ASCII, not isdigit: '²' is a digit that int() refuses.
    bad = [name for name in names if not (name.isascii() and name.isdecimal())]
    if bad:
        raise ReplayError(f"Partitions are whole numbers from 0 up, such as 0,2,5; '{bad[0]}' is not one.")
    return tuple(sorted({int(name) for name in names}))


def parse_offset_ranges(
    text: str, partitions: tuple[int, ...] | None, partition_count: Callable[[], int]
) -> dict[int, tuple[int, int]]:
    """[from, to) offsets per partition, from '100-200' or '0:100-200, 1:0-50'.

    A single range applies to every chosen partition (every partition of the topic, read through
    `partition_count`, when all are chosen); pairs choose their partitions themselves.
    """
    text = text.strip()
    if not text:
        raise ReplayError(f"Give the offsets to replay: {RANGE_FORM}.")
    single = _RANGE.fullmatch(text)
    if single:
        start, end = int(single[1]), int(single[2])
        chosen = partitions if partitions is not None else tuple(range(partition_count()))
        return {partition: (start, end) for partition in chosen}
    ranges: dict[int, tuple[int, int]] = {}
    for entry in text.split(","):
        match = _PARTITION_RANGE.fullmatch(entry)
        if match is None:
            raise ReplayError(f"Cannot read the offsets '{entry.strip()}': write {RANGE_FORM}.")
        partition = int(match[1])
        if partition in ranges:
            raise ReplayError(f"Partition {partition} has two ranges: give one range per partition.")
        ranges[partition] = int(match[2]), int(match[3])
    return ranges


def parse_time_window(start_text: str, end_text: str) -> tuple[int, int, bool]:
    """[from, to) in epoch milliseconds, and whether UTC was assumed for a time without a zone."""
    if not start_text.strip() or not end_text.strip():
        raise ReplayError("Give both ends of the time window, such as 2026-11-21T09:00:00 and 2026-11-21T10:00:00.")
    try:
        start, start_assumed = inputs.parse_datetime(start_text)
        end, end_assumed = inputs.parse_datetime(end_text)
    except PlanningError as error:
        raise ReplayError(str(error)) from None
    return start, end, start_assumed or end_assumed


def parse_header_equals(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise ReplayError(f"Write the header to match as name=value, such as source=billing; '{text}' is not.")
    return name.strip(), value


@contextmanager
def blamed_on(field: str) -> Iterator[None]:
    """A ReplayError raised inside becomes that field's error, told next to it."""
    try:
        yield
    except ReplayError as error:
        raise forms.ValidationError({field: str(error)}) from None


class ReplayForm(forms.Form):
    partitions_mode = forms.ChoiceField(choices=PARTITION_CHOICES, initial="all", widget=forms.RadioSelect)
    partitions = forms.CharField(required=False, max_length=2000, help_text="such as 0,2,5")
    range_mode = forms.ChoiceField(choices=RANGE_CHOICES, initial="offsets", widget=forms.RadioSelect)
    offsets = forms.CharField(required=False, max_length=5000, help_text=RANGE_FORM)
    time_from = forms.CharField(required=False, max_length=40, label="From (included)")
    time_to = forms.CharField(required=False, max_length=40, label="To (excluded)")
    key_filter = forms.ChoiceField(choices=KEY_FILTERS, initial="none")
    key = forms.CharField(required=False, max_length=1000, strip=False)
    header_filter = forms.ChoiceField(choices=HEADER_FILTERS, initial="none")
    header_name = forms.CharField(required=False, max_length=1000)
    header_value = forms.CharField(required=False, max_length=1000, strip=False)
    target_topic = forms.CharField(
        max_length=249,
        widget=forms.Select,
        error_messages={
            "required": "Choose the target topic the records are copied into (it must exist on this cluster)."
        },
    )
    partitioning = forms.ChoiceField(choices=PARTITIONING_CHOICES, initial="same", widget=forms.RadioSelect)
    timestamps = forms.ChoiceField(choices=TIMESTAMP_CHOICES, initial="keep", widget=forms.RadioSelect)
    # Not required: a request that does not say gets the safe default.
    delivery = forms.ChoiceField(
        choices=DELIVERY_CHOICES, initial="exactly-once", widget=forms.RadioSelect, required=False
    )
    throttle = forms.IntegerField(
        required=False,
        label="Throttle (records per second)",
        help_text="empty for as fast as the cluster takes them",
        error_messages={"invalid": "The throttle is a whole number of records per second, such as 500."},
    )

    def __init__(
        self,
        *args,
        topic: str,
        topics: Sequence[str] = (),
        partition_count: Callable[[], int | None] | None = None,
        **kwargs,
    ):
        """`topics` fill the target choice; `partition_count` reads the source's partitions when a single
        range applies to all of them (a Kafka call, so only then)."""
        super().__init__(*args, **kwargs)
        self.topic, self.topics = topic, list(topics)
        self._partition_count = partition_count
        self.fields["target_topic"].widget.choices = [("", "— choose a topic —")] + [(t, t) for t in self.topics]

    def clean(self):
        super().clean()
        data = self.cleaned_data
        if self.errors:
            return data
        try:
            data["request"], data["zone_assumed"] = self._request(data)
        except ReplayError as error:
            raise forms.ValidationError(str(error)) from None
        return data

    def _request(self, data: dict) -> tuple[ReplayRequest, bool]:
        with blamed_on("partitions"):
            partitions = parse_partitions(data["partitions"]) if data["partitions_mode"] == "some" else None
        offsets, time_from, time_to, zone_assumed = None, None, None, False
        if data["range_mode"] == "offsets":
            with blamed_on("offsets"):
                offsets = parse_offset_ranges(data["offsets"], partitions, self._count)
        else:
            with blamed_on("time_from"):
                time_from, time_to, zone_assumed = parse_time_window(data["time_from"], data["time_to"])
        key, header = data["key"], data["header_name"]
        if data["key_filter"] != "none" and not key:
            raise forms.ValidationError({"key": "Give the key to match, or choose any key."})
        if data["header_filter"] != "none" and not header:
            raise forms.ValidationError({"header_name": "Give the header name to match, or choose any headers."})
        request = ReplayRequest(
            topic=self.topic,
            partitions=partitions,
            offsets=offsets,
            time_from_ms=time_from,
            time_to_ms=time_to,
            key_equals=key if data["key_filter"] == "equals" else None,
            key_regex=key if data["key_filter"] == "regex" else None,
            header_present=header if data["header_filter"] == "present" else None,
            header_equals=(header, data["header_value"]) if data["header_filter"] == "equals" else None,
            target_topic=data["target_topic"],
            partitioning=data["partitioning"],
            keep_timestamps=data["timestamps"] == "keep",
            throttle_rps=data["throttle"],
            exactly_once=data["delivery"] != "at-least-once",
        )
        return request, zone_assumed

    def _count(self) -> int:
        count = self._partition_count() if self._partition_count else None
        if count is None:
            raise ReplayError(f"Topic '{self.topic}' does not exist on this cluster: check its name.")
        return count

    @classmethod
    def for_request(cls, request: ReplayRequest, **kwargs) -> ReplayForm:
        """The form filled as it was for a preview (offsets as pairs; times as the UTC they were read as)."""
        offsets = ", ".join(f"{p}:{start}-{end}" for p, (start, end) in sorted((request.offsets or {}).items()))
        key_filter = (
            "equals" if request.key_equals is not None else "regex" if request.key_regex is not None else "none"
        )
        header_filter = (
            "present"
            if request.header_present is not None
            else "equals"
            if request.header_equals is not None
            else "none"
        )
        return cls(
            initial={
                "partitions_mode": "some" if request.partitions is not None and not request.offsets else "all",
                "partitions": listed(request.partitions) if request.partitions is not None else "",
                "range_mode": "offsets" if request.offsets else "time",
                "offsets": offsets,
                "time_from": format_time_ms(request.time_from_ms, missing=""),
                "time_to": format_time_ms(request.time_to_ms, missing=""),
                "key_filter": key_filter,
                "key": request.key_equals or request.key_regex or "",
                "header_filter": header_filter,
                "header_name": request.header_present or (request.header_equals or ("", ""))[0],
                "header_value": (request.header_equals or ("", ""))[1],
                "target_topic": request.target_topic,
                "partitioning": request.partitioning,
                "timestamps": "keep" if request.keep_timestamps else "now",
                "throttle": request.throttle_rps,
                "delivery": "exactly-once" if request.exactly_once else "at-least-once",
            },
            topic=request.topic,
            **kwargs,
        )
