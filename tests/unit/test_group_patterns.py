"""The group patterns of grants and alert rules: what * ? [ ] match, how to match a bracket itself, which patterns
are refused, and that the database's regex matches what the console's own check does."""

import re

import pytest
from django.core.exceptions import ValidationError

from groups.access import pattern_matches
from groups.models import Grant
from groups.patterns import glob_regex, pattern_error

IDS = [
    "team1",
    "team2",
    "team[1]",
    "team]",
    "team-",
    "team^",
    "teamx",
    "team",
    "team\\",
    "payments-eu",
    "payments.eu",
    "payments\neu",
    "a+b",
    "(a)",
    "",
]
PATTERNS = [
    "*",
    "team?",
    "team[12]",
    "team[!12]",
    "team[1-2]",
    "team[[]1]",
    "team[]]",
    "team[!]]",
    "team[a-]",
    "team[-x]",
    "team[^]",
    "team[\\]",
    "team[.x]",
    "payments.eu",
    "payments?eu",
    "payments-*",
    "a+b",
    "(a)",
    "team[1]",
]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_the_databases_regex_matches_the_ids_the_console_matches(pattern):
    assert pattern_error(pattern) == ""
    regex = re.compile("(?s)" + glob_regex(pattern))
    for group_id in IDS:
        # The exact id is matched apart (Q(group_id=pattern)), as `pattern_matches` compares it first.
        by_regex = group_id == pattern or regex.search(group_id) is not None
        assert by_regex == pattern_matches(pattern, group_id), (pattern, group_id)


@pytest.mark.parametrize(
    ("pattern", "matched"),
    [
        ("team?", {"team1", "team2", "team]", "team-", "team^", "teamx", "team\\"}),
        ("team[12]", {"team1", "team2"}),
        ("team[!12]", {"team]", "team-", "team^", "teamx", "team\\"}),
        # A bracket itself: [[] is a literal [, and a ] first in the brackets is one of the characters.
        ("team[[]1]", {"team[1]"}),
        ("team[]]", {"team]"}),
        # Typed as an id, a pattern still matches the group of that exact id, and the glob's own matches.
        ("team[1]", {"team1", "team[1]"}),
        ("team[a-]", {"team-"}),
        ("team[^]", {"team^"}),
        ("payments.eu", {"payments.eu"}),
        ("payments?eu", {"payments-eu", "payments.eu", "payments\neu"}),
        ("a+b", {"a+b"}),
    ],
)
def test_what_a_pattern_matches(pattern, matched):
    assert {group_id for group_id in IDS if pattern_matches(pattern, group_id)} == matched


@pytest.mark.parametrize(
    ("pattern", "said"),
    [
        ("team[1", "'team[1' opens a [ at character 5 that no ] closes."),
        ("team[1", "to match a [ itself, write [[]."),
        ("[", "'[' opens a [ at character 1"),
        ("team[]", "'team[]' opens a [ at character 5 that no ] closes."),
        ("team[!]", "opens a [ at character 5"),
        ("ok[a]-[b", "opens a [ at character 7"),
        ("team[z-a]", "'team[z-a]' has the range z-a, which runs backwards and matches nothing: write a-z"),
    ],
)
def test_a_malformed_pattern_is_refused_saying_how_to_write_it(pattern, said):
    assert said in pattern_error(pattern)


def test_a_malformed_pattern_saved_before_it_was_refused_reads_as_fnmatch_reads_it():
    # An unclosed [ is a [ itself; a class left empty by a backwards range matches nothing.
    assert pattern_matches("team[1", "team[1") and re.search(glob_regex("team[1*"), "team[12")
    assert not re.search(glob_regex("team[z-a]"), "teamz") and not pattern_matches("team[z-a]", "teamz")
    assert re.search(glob_regex("team[!z-a]"), "teamz") and pattern_matches("team[!z-a]", "teamz")


def test_without_classes_brackets_are_themselves():
    regex = re.compile(glob_regex("team[1]*", classes=False))
    assert regex.search("team[1]-a") and not regex.search("team1-a")


def test_a_grant_with_a_malformed_pattern_is_refused_next_to_its_field():
    with pytest.raises(ValidationError) as refused:
        Grant(role="Viewer", group_pattern="payments-[eu").clean()
    assert refused.value.message_dict == {"group_pattern": [pattern_error("payments-[eu")]}
    assert "opens a [ at character 10 that no ] closes" in pattern_error("payments-[eu")
