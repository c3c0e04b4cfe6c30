"""Django's `{# #}` comment ends at the line's end: a longer one is printed on the page as text."""

import re
from pathlib import Path

from django.template.loader import render_to_string

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
EMPTY_TOTALS = {"lag_before": 0, "lag_after": 0, "records_to_reconsume": 0, "records_to_skip": 0}
UNCLOSED_COMMENT = re.compile(r"\{#(?:(?!#\}).)*$", re.M)


def test_no_template_opens_a_short_comment_it_closes_on_a_later_line():
    offenders = [
        f"{path.relative_to(TEMPLATES)}:{text.count(chr(10), 0, match.start()) + 1}"
        for path in sorted(TEMPLATES.rglob("*.html"))
        for text in [path.read_text()]
        for match in UNCLOSED_COMMENT.finditer(text)
    ]
    assert offenders == []


def test_the_plan_table_renders_no_comment_text():
    body = render_to_string("groups/_plan_table.html", {"rows": [], "plan": {"rows": [], "totals": EMPTY_TOTALS}})
    assert "{#" not in body
    assert "<table" in body
