"""How long alerts that ended are kept: ALERT_EPISODE_RETENTION_DAYS, then they go with their notifications."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from groups.models import AlertEpisode


def keep_from(now: datetime) -> datetime:
    """The oldest end an alert may have and still be listed."""
    return now - timedelta(days=settings.ALERT_EPISODE_RETENTION_DAYS)


def prune(now: datetime | None = None) -> int:
    """Drop the alerts that ended before the retention period (and the notifications they sent); how many."""
    _, deleted = AlertEpisode.objects.filter(resolved_at__lt=keep_from(now or timezone.now())).delete()
    return deleted.get(AlertEpisode._meta.label, 0)
