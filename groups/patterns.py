"""The group patterns of grants and alert rules: what they mean, which are malformed, and their regex for the database.

A pattern is fnmatch's glob, case-sensitive: `*` any run of characters, `?` any one, `[abc]` one of those,
`[a-z]` one in the range, `[!abc]` one not listed. A `]` first in the brackets is one of the characters,
so `[]]` matches a literal `]` and `[[]` a literal `[`. Besides, a pattern matches the group whose id is
exactly the pattern (Kafka allows `[` in ids: a grant typed as `team[1]` still reaches group `team[1]`, as
well as `team1`).
"""

from __future__ import annotations

import re

# What the forms (grants in Django admin, alert rules) say under the field.
PATTERN_HELP = (
    "A consumer group id, or a pattern of ids: * stands for any characters, ? for any one, [abc] for one of "
    "a, b or c ([a-z] a range, [!abc] any other); [[] and []] match a literal [ and ]. Case matters, and a "
    "pattern also matches the group whose id is exactly the pattern."
)


def _class_end(pattern: str, start: int) -> int:
    """Where the `]` closing the class opened at `start` stands, as fnmatch reads it; -1 when none does."""
    i = start + 1
    if i < len(pattern) and pattern[i] == "!":
        i += 1
    if i < len(pattern) and pattern[i] == "]":
        i += 1  # a ] first is a member, not the end
    return pattern.find("]", i)


def _members(body: str) -> list[tuple[str, str]]:
    """A class's members as (first, last) character ranges; a lone character is (c, c). A `-` first, last or
    right after a range is itself, as fnmatch reads it."""
    ranges, i = [], 0
    while i < len(body):
        if i + 2 < len(body) and body[i + 1] == "-":
            ranges.append((body[i], body[i + 2]))
            i += 3
        else:
            ranges.append((body[i], body[i]))
            i += 1
    return ranges


def pattern_error(pattern: str) -> str:
    """Why `pattern` is malformed, in words that say how to write it; "" when it is fine."""
    i = 0
    while i < len(pattern):
        if pattern[i] != "[":
            i += 1
            continue
        end = _class_end(pattern, i)
        if end == -1:
            return (
                f"'{pattern}' opens a [ at character {i + 1} that no ] closes. Brackets list the characters one "
                "position may be ([abc], [a-z], [!abc]); to match a [ itself, write [[]."
            )
        body = pattern[i + 1 : end].removeprefix("!")
        for first, last in _members(body):
            if first > last:
                return (
                    f"'{pattern}' has the range {first}-{last}, which runs backwards and matches nothing: "
                    f"write {last}-{first}, or put the - last ([{first}{last}-]) to match a - itself."
                )
        i = end + 1
    return ""


def _char(char: str) -> str:
    # A backslash makes any other character itself in Python's regexes and in PostgreSQL's.
    return char if char.isalnum() else "\\" + char


def glob_regex(pattern: str, *, classes: bool = True) -> str:
    """A pattern as an anchored regex that SQLite (through Django) and PostgreSQL both read, matching what
    fnmatch matches.

    Without `classes`, `[` and `]` are themselves. A `[` no `]` closes is itself, as fnmatch reads it (only a
    pattern saved before `pattern_error` refused it has one); a backwards range matches nothing.
    """
    parts, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        end = _class_end(pattern, i) if char == "[" and classes else -1
        if char == "*":
            parts.append(".*")
        elif char == "?":
            parts.append(".")
        elif end != -1:
            body = pattern[i + 1 : end]
            negate = body.startswith("!")
            ranges = [(a, b) for a, b in _members(body.removeprefix("!")) if a <= b]
            if not ranges:
                # fnmatch drops a backwards range: a class left empty matches no character (x^: an x before the
                # start, in either engine), or, negated, any.
                parts.append("." if negate else "x^")
            else:
                listed = "".join(_char(a) if a == b else f"{_char(a)}-{_char(b)}" for a, b in ranges)
                parts.append(f"[{'^' if negate else ''}{listed}]")
            i = end
        else:
            parts.append(re.escape(char))
        i += 1
    return "^" + "".join(parts) + "$"
