"""The record browser's form, read from the query string: each mistake is told next to its field."""

from __future__ import annotations

from typing import cast

from django import forms
from django.http import QueryDict

from groups import browse
from groups.kafka import LogOffsets
from groups.planning import inputs
from groups.planning.resets import PlanningError

# What a bound form starts from: a link that names only a partition reads the newest records.
DEFAULTS = {"seek": "end", "direction": "backward", "count": str(browse.DEFAULT_COUNT), "format": "auto"}


def default_direction(seek: str) -> str:
    """Backwards from the log end (the newest records); forwards from any other position, as
    kafka-console-consumer reads from an offset or a timestamp. records.js follows the same rule."""
    return "backward" if seek == "end" else "forward"


FIELDS = ("partition", "seek", "offset", "time", "direction", "count", "key", "contains", "format", "show")


def _whole_number(text: str) -> int | None:
    text = text.strip()
    # isdecimal, not isdigit: '²' is a digit that int() refuses.
    return int(text) if text.isascii() and text.isdecimal() else None


class RecordsForm(forms.Form):
    partition = forms.CharField(max_length=20)
    seek = forms.ChoiceField(choices=list(browse.SEEKS.items()), widget=forms.RadioSelect, label="Start at")
    offset = forms.CharField(required=False, max_length=20)
    time = forms.CharField(required=False, max_length=40, label="Date and time")
    direction = forms.ChoiceField(choices=list(browse.DIRECTIONS.items()), widget=forms.RadioSelect)
    count = forms.CharField(max_length=10, label="Records")
    key = forms.CharField(required=False, strip=False, max_length=1000, label="Key is")
    contains = forms.CharField(required=False, strip=False, max_length=1000, label="Key or value contains")
    format = forms.ChoiceField(choices=list(browse.FORMATS.items()), label="Show as")

    def __init__(self, data: QueryDict | None, *, partitions: dict[int, LogOffsets]):
        if data is not None:
            data = data.copy()
            for name, value in DEFAULTS.items():
                if not data.get(name):
                    data[name] = default_direction(data.get("seek", "")) if name == "direction" else value
        super().__init__(data, initial=DEFAULTS)
        self.partitions = partitions
        self.zone_assumed = False
        # Per record formats, from the links that switch one record without JavaScript: offset -> format.
        self.record_formats: dict[int, str] = {}

    @classmethod
    def from_query(cls, query: QueryDict, *, partitions: dict[int, LogOffsets]) -> RecordsForm:
        """Bound when the query asks for a read (names any of the form's fields), else the empty form."""
        return cls(query if any(name in query for name in FIELDS) else None, partitions=partitions)

    def clean_partition(self) -> int:
        raw = self.cleaned_data["partition"]
        partition = _whole_number(raw)
        if partition is None or partition not in self.partitions:
            what = f"'{raw}' is not a partition number" if partition is None else f"There is no partition {partition}"
            known = sorted(self.partitions)
            raise forms.ValidationError(f"{what}: this topic has partitions {known[0]} to {known[-1]}.")
        log = self.partitions[partition]
        if log.start is None or log.end is None:
            raise forms.ValidationError(
                f"Partition {partition} has no leader now, so it cannot be read: try again in a moment."
            )
        return partition

    def clean_count(self) -> int:
        raw = self.cleaned_data["count"]
        count = _whole_number(raw)
        if count is None or not browse.MIN_COUNT <= count <= browse.MAX_COUNT:
            raise forms.ValidationError(
                f"Records must be a whole number from {browse.MIN_COUNT} to {browse.MAX_COUNT}, not '{raw}'."
            )
        return count

    def clean(self):
        cleaned = self.cleaned_data
        seek = cleaned.get("seek")
        if seek == "offset":
            self._clean_offset(cleaned)
        elif seek == "time":
            self._clean_time(cleaned)
        self._clean_record_formats()
        return cleaned

    def _clean_offset(self, cleaned: dict) -> None:
        raw = cleaned.get("offset", "")
        offset = _whole_number(raw)
        if offset is None:
            message = (
                "Give the offset to start at."
                if not raw.strip()
                else f"'{raw}' is not an offset: an offset is a whole number, 0 or more."
            )
            self.add_error("offset", message)
            return
        partition = cleaned.get("partition")
        if partition is not None:
            problem = browse.offset_problem(offset, partition, self.partitions[partition])
            if problem:
                self.add_error("offset", problem)
                return
        cleaned["offset"] = offset

    def _clean_time(self, cleaned: dict) -> None:
        raw = cleaned.get("time", "")
        if not raw.strip():
            self.add_error("time", "Give the date and time to start at, such as 2026-11-21T09:00:00.")
            return
        try:
            cleaned["time_ms"], self.zone_assumed = inputs.parse_datetime(raw)
        except PlanningError as error:
            self.add_error("time", str(error))

    def _clean_record_formats(self) -> None:
        for entry in cast(QueryDict, self.data).getlist("show"):
            offset, _, wanted = entry.partition(":")
            number = _whole_number(offset)
            if number is None or wanted not in browse.FORMATS:
                self.add_error(
                    "format", f"'{entry}' is not OFFSET:FORMAT, with FORMAT one of {', '.join(browse.FORMATS)}."
                )
                return
            self.record_formats[number] = wanted

    def browse_request(self) -> browse.BrowseRequest:
        """What a valid form asks to read."""
        data = self.cleaned_data
        return browse.BrowseRequest(
            partition=data["partition"],
            seek=data["seek"],
            offset=data["offset"] if data["seek"] == "offset" else None,
            time_ms=data.get("time_ms") if data["seek"] == "time" else None,
            direction=data["direction"],
            count=data["count"],
            key=data["key"],
            contains=data["contains"],
        )
