"""The Prometheus text format (version 0.0.4), written family by family into bounded buffers.

The format wants each metric family's lines together, under one HELP and one TYPE line, while
the snapshot is read group by group, and each group adds to several families. So one pass over
the rows appends each family's lines to its own spooled buffer (memory up to SPOOL_BYTES, then a
temporary file), and the page is streamed family after family from the buffers. prometheus-client's
`generate_latest` builds sample objects and the whole page as one string instead: bench/metrics.py
measures both. Values are formatted by prometheus-client's `floatToGoString`. Pure: no Django.
"""

from __future__ import annotations

from collections.abc import Iterator
from tempfile import SpooledTemporaryFile

from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.utils import floatToGoString

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
SPOOL_BYTES = 1 << 20  # per family; past it the family's lines go to a temporary file
CHUNK_BYTES = 1 << 16  # what one piece of the streamed response carries
_FLUSH_LINES = 2000
_INF = float("inf")


def label_value(text: str) -> str:
    """`text` as a quoted label value carries it: backslash, double quote and newline escaped."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def number(value: float) -> str:
    """A sample's value: integers as they are (an offset past 2**53 stays exact); finite floats by Python's
    repr, which Prometheus parses as it parses Go's; ±Inf and NaN by prometheus-client's floatToGoString."""
    if type(value) is int:
        return str(value)
    return repr(value) if -_INF < value < _INF else floatToGoString(value)


class Family:
    """One metric family: its HELP and TYPE lines, then its samples, kept until the page is streamed.

    The hot path (a group's partitions) appends whole lines to `lines`, starting with `opening`, and
    calls `spill` after each group; `add` is for everything else.
    """

    def __init__(self, name: str, kind: str, help_text: str):
        if kind not in ("gauge", "counter"):
            raise ValueError(f"unsupported metric type {kind!r}")
        if kind == "counter" and not name.endswith("_total"):
            raise ValueError(f"a counter's name ends in _total: {name!r}")
        self.name = name
        self.kind = kind
        self.help_text = help_text
        self.opening = f"{name}{{"
        self.lines: list[str] = []
        self._buffer = SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 (closed by close())

    def add(self, labels: str, value: float) -> None:
        """One sample; `labels` is the text between the braces, its values escaped by `label_value`."""
        self.lines.append(f"{self.opening}{labels}}} {number(value)}\n")
        self.spill()

    def spill(self) -> None:
        """Move the lines to the buffer once there are enough of them to be worth a write."""
        if len(self.lines) >= _FLUSH_LINES:
            self._flush()

    def _flush(self) -> None:
        if self.lines:
            self._buffer.write("".join(self.lines).encode())
            self.lines.clear()

    def header(self) -> str:
        help_text = self.help_text.replace("\\", "\\\\").replace("\n", "\\n")
        return f"# HELP {self.name} {help_text}\n# TYPE {self.name} {self.kind}\n"

    def chunks(self) -> Iterator[bytes]:
        self._flush()
        self._buffer.seek(0)
        yield self.header().encode()
        while chunk := self._buffer.read(CHUNK_BYTES):
            yield chunk

    def close(self) -> None:
        self._buffer.close()


class Exposition:
    """The families of one page by key, written out in the order given."""

    def __init__(self, families: dict[str, Family]):
        self.families = families

    def __getitem__(self, key: str) -> Family:
        return self.families[key]

    def chunks(self) -> Iterator[bytes]:
        """The page, in pieces of about CHUNK_BYTES; the buffers are released at the end, or when the reader
        stops early (a closed generator runs its `finally`)."""
        try:
            pending = b""
            for family in self.families.values():
                for chunk in family.chunks():
                    pending += chunk
                    if len(pending) >= CHUNK_BYTES:
                        yield pending
                        pending = b""
                family.close()
            if pending:
                yield pending
        finally:
            self.close()

    def close(self) -> None:
        for family in self.families.values():
            family.close()
