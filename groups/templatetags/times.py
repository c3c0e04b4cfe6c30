"""Times as pages show them: in UTC, marked up so `static/groups/times.js` can show them in the reader's zone.

Without JavaScript a page reads the UTC text; with it, the text becomes the browser's local time
(or stays UTC for a user who prefers it), and the title keeps the UTC value for hovering.
"""

from datetime import UTC, datetime

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from groups.models import UserPreferences

register = template.Library()

# The styles times.js knows: a date and time, how long ago (kept current) where recency matters, or a
# date and time to the millisecond (a record's timestamp, compared with what Kafka's tools print).
STYLES = ("", "ago", "ms")


def utc_datetime(value: datetime | int | float) -> datetime:
    """A timezone-aware datetime or epoch milliseconds (what Kafka and the collector keep), in UTC."""
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.fromtimestamp(value / 1000, tz=UTC)


@register.filter
def when(value: datetime | int | float | None, style: str = "") -> SafeString | str:
    """`{{ op.created|when }}`, `{{ ms|when:"ago" }}` or `{{ ms|when:"ms" }}`: a <time> element; '—' for no time.

    The text is 'YYYY-MM-DD HH:MM:SS UTC' (seconds kept: operators line it up with logs); the
    `datetime` attribute carries milliseconds so the script converts the exact instant.
    """
    if value is None or value == "":
        return "—"
    if style not in STYLES:
        raise template.TemplateSyntaxError(f"when: unknown style '{style}'; use one of {STYLES}.")
    try:
        if not isinstance(value, datetime) and value < 0:
            raise ValueError  # Kafka's -1: a record without a timestamp
        moment = utc_datetime(value)
    except (OverflowError, ValueError, OSError):
        # A timestamp no date can hold (a producer's mistake) is shown as it is, not refused.
        return f"epoch ms {value}"
    machine = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if style == "ms":
        text = moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d} UTC"
    else:
        text = moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    return format_html('<time datetime="{}" title="{}" data-when="{}">{}</time>', machine, text, style or "at", text)


@register.simple_tag(takes_context=True)
def time_zone_preference(context) -> str:
    """'utc' or 'local': how the signed-in user wants times shown, for times.js to read on <html>."""
    request = context.get("request")
    user = getattr(request, "user", None)
    return "utc" if user is not None and UserPreferences.times_in_utc_for(user) else "local"


@register.simple_tag
def time_now() -> SafeString | str:
    """Now, as `when` shows a time: for the 'Refreshed at' line of a live page."""
    return when(timezone.now())
