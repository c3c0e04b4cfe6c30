"""The one way pages write counts: thousands separated, signed where a change is shown."""

import pytest

from groups.templatetags.console import count


@pytest.mark.parametrize(
    ("value", "sign", "shown"),
    [
        (0, "", "0"),
        (999, "", "999"),
        (1425, "", "1,425"),
        (12345678, "", "12,345,678"),
        (-1500, "", "-1,500"),
        (None, "", "—"),
        (1075, "+", "+1,075"),
        (-30, "+", "-30"),
        (0, "+", "0"),
    ],
)
def test_a_count_is_written_with_thousands_separators(value, sign, shown):
    assert count(value, sign) == shown


@pytest.mark.parametrize(
    ("seconds", "parts", "shown"),
    [
        (0, 2, "0s"),
        (0.4, 2, "0s"),
        (-0.4, 2, "0s"),
        (-0.6, 2, "-1s"),
        (45, 2, "45s"),
        (59.5, 2, "1m"),
        (192, 2, "3m 12s"),
        (-192, 2, "-3m 12s"),
        (3600, 2, "1h"),
        (7300, 2, "2h 1m"),
        (7300, 3, "2h 1m 40s"),
        (648_000.0, 2, "7d 12h"),
        (90_061, 1, "1d"),
    ],
)
def test_durations_read_in_whole_seconds_at_most_parts_units(seconds, parts, shown):
    from groups.chart_scales import duration_text

    assert duration_text(seconds, parts) == shown
    assert duration_text(seconds, parts) == shown  # the second time from the kept words, the same
