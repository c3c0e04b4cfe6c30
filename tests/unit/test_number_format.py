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
