"""URL converters for values Kafka allows but Django's built-in converters do not match."""

from __future__ import annotations


class GroupIdConverter:
    """A consumer group id: any non-empty text, slashes and newlines included.

    Kafka puts no limit on a group id's characters, so `<path:...>` (which is `.+` and so stops at
    a newline) cannot reverse every id the cluster lists. The id is always the URL's last segment
    before the closing slash, so matching everything is unambiguous. An empty id (which only old
    clients can create) has no URL: pages show it without a link.
    """

    regex = r"[\s\S]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value
