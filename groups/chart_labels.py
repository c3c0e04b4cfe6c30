"""Where the history chart puts the labels of its operation markers, so that no two overlap.

Pure: label centres and texts in, label rows out. Two operations minutes apart sit a few pixels
apart on a 6 h or 24 h axis, and labels drawn at one height there overwrite each other ("reset #1"
under "undo #3" read "r undo #3"). So a label that would touch one already placed goes one row
lower; when every row is taken at that spot, it joins its neighbour's label, which then names
both ("reset #1, undo #3") or counts them ("3 operations").

Widths are estimated, not measured (the server has no fonts): per character, from the widths of
DejaVu Sans, the widest face `system-ui, sans-serif` resolves to on the platforms we serve, so the
estimate errs wide and labels keep a little air between them rather than touch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

MAX_ROWS = 3
LABEL_GAP = 6  # px of air between two labels in one row

_NARROW = frozenset(" ,.:;!|'()[]ilfjtI")
_WIDE = frozenset("mwMW@%")


def text_width(text: str, font_size: float) -> float:
    """An upper estimate of `text`'s width in px at `font_size`."""
    em = 0.0
    for char in text:
        if char in _NARROW:
            em += 0.4
        elif char in _WIDE:
            em += 1.0
        elif char == "#" or char.isupper():
            em += 0.84
        else:
            em += 0.66
    return em * font_size


@dataclass(frozen=True)
class MarkerLabel:
    """One label: `members` are the indexes (into the layout's input) of the markers it names."""

    members: tuple[int, ...]
    text: str
    x: float  # the label's centre
    width: float
    row: int

    @property
    def left(self) -> float:
        return self.x - self.width / 2

    @property
    def right(self) -> float:
        return self.x + self.width / 2


def crowd_text(texts: Sequence[str]) -> str:
    """What one label for several markers reads: both names for two, a count for more."""
    return ", ".join(texts) if len(texts) <= 2 else f"{len(texts)} operations"


def layout_marker_labels(
    markers: Sequence[tuple[float, str]],
    *,
    left: float,
    right: float,
    font_size: float,
    max_rows: int = MAX_ROWS,
) -> list[MarkerLabel]:
    """Labels for `markers` (each its line's x and its label text), left to right.

    A label is centred over its marker (over the middle of its markers when it names several),
    moved inwards where it would stick out of `left`..`right`, and put in the top row it fits in,
    at least LABEL_GAP px from the labels there. When a label fits in none of `max_rows` rows, the
    two closest neighbours among it and the labels in its way share one label and the layout starts
    over; so every marker is named exactly once.
    """
    order = sorted(range(len(markers)), key=lambda i: (markers[i][0], i))
    groups = [[i] for i in order]
    while True:
        labels = _place(groups, markers, left, right, font_size, max_rows)
        if len(labels) == len(groups):
            return labels
        stuck = len(labels)
        _, stuck_left, _ = _box(groups[stuck], markers, left, right, font_size)
        # Merge where markers are closest among the labels in the way (and the stuck one), so a
        # tight crowd shares a label before a marker that is merely near it gets pulled in.
        first = min(i for i, label in enumerate(labels) if label.right + LABEL_GAP > stuck_left)
        pairs = range(first, stuck)
        j = min(pairs, key=lambda k: (markers[groups[k + 1][0]][0] - markers[groups[k][-1]][0], k))
        groups[j : j + 2] = [groups[j] + groups[j + 1]]


def _box(
    group: list[int], markers: Sequence[tuple[float, str]], left: float, right: float, font_size: float
) -> tuple[str, float, float]:
    """A group's label: its text, and its left and right edge."""
    text = crowd_text([markers[i][1] for i in group])
    width = text_width(text, font_size)
    centre = (markers[group[0]][0] + markers[group[-1]][0]) / 2
    centre = max(left + width / 2, min(centre, right - width / 2))
    if width > right - left:
        centre = (left + right) / 2
    return text, centre - width / 2, centre + width / 2


def _place(
    groups: list[list[int]],
    markers: Sequence[tuple[float, str]],
    left: float,
    right: float,
    font_size: float,
    max_rows: int,
) -> list[MarkerLabel]:
    """The labels of `groups` in order, up to the first that fits in no row."""
    row_ends = [float("-inf")] * max(1, max_rows)
    placed: list[MarkerLabel] = []
    for group in groups:
        text, start, end = _box(group, markers, left, right, font_size)
        row = next((r for r, row_end in enumerate(row_ends) if row_end + LABEL_GAP <= start), None)
        if row is None:
            return placed
        row_ends[row] = end
        placed.append(MarkerLabel(tuple(group), text, (start + end) / 2, end - start, row))
    return placed
