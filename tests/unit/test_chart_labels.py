"""The layout of the history chart's operation labels: far apart they share one row, close ones are
staggered into rows, and a crowd that fills every row shares one label that names them all."""

from __future__ import annotations

import itertools

import pytest

from groups.chart_labels import LABEL_GAP, MAX_ROWS, MarkerLabel, layout_marker_labels, text_width

FONT = 11
LEFT, RIGHT = 2, 718


def _layout(*markers: tuple[float, str], rows: int = MAX_ROWS) -> list[MarkerLabel]:
    return layout_marker_labels(markers, left=LEFT, right=RIGHT, font_size=FONT, max_rows=rows)


def _assert_readable(labels: list[MarkerLabel], count: int) -> None:
    """Every marker is named by exactly one label, inside the chart, and no two labels of a row touch."""
    assert sorted(i for label in labels for i in label.members) == list(range(count))
    for label in labels:
        assert label.left >= LEFT and label.right <= RIGHT, label
        assert label.width == pytest.approx(text_width(label.text, FONT))
    for a, b in itertools.combinations(labels, 2):
        if a.row == b.row:
            assert a.right + LABEL_GAP <= b.left or b.right + LABEL_GAP <= a.left, (a, b)


def test_labels_far_apart_stay_in_the_first_row_centred_over_their_lines():
    labels = _layout((100.0, "reset #1"), (300.0, "undo #3"), (500.0, "replay #7"))
    assert [(label.members, label.text, label.x, label.row) for label in labels] == [
        ((0,), "reset #1", 100.0, 0),
        ((1,), "undo #3", 300.0, 0),
        ((2,), "replay #7", 500.0, 0),
    ]
    _assert_readable(labels, 3)


def test_a_reset_and_its_undo_minutes_apart_get_a_row_each_and_both_read_in_full():
    # 10:39:38 and 10:42:59 on the 1 h range of a 720 px chart: 36 px apart.
    labels = _layout((400.0, "reset #1"), (435.7, "undo #3"))
    assert [(label.text, label.row) for label in labels] == [("reset #1", 0), ("undo #3", 1)]
    assert [label.x for label in labels] == [400.0, 435.7]
    _assert_readable(labels, 2)


def test_a_row_is_used_again_once_the_labels_before_are_passed():
    labels = _layout((100.0, "reset #1"), (110.0, "undo #2"), (250.0, "reset #3"))
    assert [label.row for label in labels] == [0, 1, 0]


def test_labels_at_the_edges_move_inwards_instead_of_out_of_the_chart():
    labels = _layout((3.0, "replay #1234"), (716.0, "reset #99"), (705.0, "undo #100"))
    assert [(label.members, label.row) for label in labels] == [((0,), 0), ((2,), 0), ((1,), 1)]
    assert [label.left == LEFT for label in labels] == [True, False, False]
    assert [label.right == RIGHT for label in labels] == [False, True, True]
    _assert_readable(labels, 3)


def test_two_close_markers_with_one_row_share_a_label_that_names_both():
    labels = _layout((400.0, "reset #1"), (404.0, "undo #3"), rows=1)
    assert [(label.members, label.text, label.x) for label in labels] == [((0, 1), "reset #1, undo #3", 402.0)]
    _assert_readable(labels, 2)


def test_a_crowd_that_fills_every_row_is_counted_in_one_label():
    crowd = [(300.0 + 2 * i, f"reset #{i}") for i in range(1, 9)]
    labels = _layout((100.0, "undo #50"), *crowd, (650.0, "replay #60"))
    _assert_readable(labels, 10)
    assert len(labels) <= 1 + MAX_ROWS + 1
    assert labels[0].text == "undo #50" and labels[-1].text == "replay #60"
    counted = [label for label in labels if label.text.endswith(" operations")]
    assert len(counted) == 1
    assert counted[0].text == f"{len(counted[0].members)} operations"


def test_markers_given_out_of_order_are_laid_out_left_to_right_and_keep_their_indexes():
    labels = _layout((500.0, "undo #3"), (100.0, "reset #1"))
    assert [(label.members, label.text) for label in labels] == [((1,), "reset #1"), ((0,), "undo #3")]


def test_no_markers_no_labels():
    assert _layout() == []


def test_the_width_estimate_grows_with_the_text_and_the_font():
    assert text_width("reset #12", 11) > text_width("reset #1", 11) > 0
    assert text_width("reset #1", 22) == pytest.approx(2 * text_width("reset #1", 11))
