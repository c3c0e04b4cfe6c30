"""Slowing down, then locking out, password guessing: failed sign-ins counted per username and per address.

After a few failures for a username its next attempt must wait a little longer each time; after
FAILURES_PER_USERNAME failures for one username within WINDOW (or FAILURES_PER_ADDRESS from one
address) every attempt is refused for LOCKOUT, whatever the password. Refused attempts check no
password and do not extend the lock, so the person locked out knows when to come back.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.utils import timezone

from groups import audit
from groups.models import AuditEvent, LoginFailure

FAILURES_PER_USERNAME = 5
# Higher than per username: several people may sign in from behind one NAT or proxy address.
FAILURES_PER_ADDRESS = 20
WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)
# Failures within WINDOW before the next attempt has to wait; each further one doubles the wait.
FREE_FAILURES = 2
MAX_WAIT = timedelta(seconds=30)


def _wait_after(failures: int) -> timedelta:
    if failures <= FREE_FAILURES:
        return timedelta(0)
    return min(timedelta(seconds=2 ** (failures - FREE_FAILURES)), MAX_WAIT)


def _latest(failures: QuerySet[LoginFailure], limit: int, now: datetime) -> list[datetime]:
    return list(
        failures.filter(time__gt=now - WINDOW - LOCKOUT).order_by("-time").values_list("time", flat=True)[:limit]
    )


def _lock_end(latest: list[datetime], limit: int) -> datetime | None:
    if len(latest) == limit and latest[0] - latest[-1] <= WINDOW:
        return latest[0] + LOCKOUT
    return None


def retry_at(username: str, source_ip: str | None) -> datetime | None:
    """When a sign-in as `username` from `source_ip` may next be tried; None if it may be now.

    The growing wait is per username only: people sharing an address should not wait for each
    other's typos; the address is only locked, at a higher count.
    """
    now = timezone.now()
    by_username = _latest(LoginFailure.objects.filter(username=username), FAILURES_PER_USERNAME, now)
    candidates = [_lock_end(by_username, FAILURES_PER_USERNAME)]
    if by_username:
        candidates.append(by_username[0] + _wait_after(sum(1 for t in by_username if t > now - WINDOW)))
    if source_ip:
        by_address = _latest(LoginFailure.objects.filter(source_ip=source_ip), FAILURES_PER_ADDRESS, now)
        candidates.append(_lock_end(by_address, FAILURES_PER_ADDRESS))
    latest = max((at for at in candidates if at is not None), default=None)
    return latest if latest is not None and latest > now else None


def refusal(retry: datetime) -> str:
    # Rounded up: told to wait 3 s with 3.4 s left, a person would be refused again.
    seconds = max(1, math.ceil((retry - timezone.now()).total_seconds()))
    if seconds <= MAX_WAIT.total_seconds():
        return f"Too many failed sign-ins in a row: wait {seconds} second{'s' if seconds != 1 else ''}, then try again."
    return (
        f"Too many failed sign-ins for this username or from this address: signing in is locked until "
        f"{retry:%H:%M} UTC ({-(-seconds // 60)} min). If these attempts were not yours, tell an admin."
    )


UNKNOWN_USER = "(no such user)"


def _actor(username: str) -> str:
    # The audit log is permanent; a password typed into the username field must not land in it.
    return username if get_user_model().objects.filter(username=username).exists() else UNKNOWN_USER


def refuse(username: str, source_ip: str | None, retry: datetime) -> str:
    """Record an attempt refused without checking its password; the message to show."""
    message = refusal(retry)
    audit.record(
        AuditEvent.Action.LOGIN_FAILED, actor=_actor(username), source_ip=source_ip, outcome="refused", error=message
    )
    return message


def record_failure(username: str, source_ip: str | None, error: str) -> None:
    now = timezone.now()
    # Older failures can no longer wait or lock anyone; dropping them keeps the table small.
    LoginFailure.objects.filter(time__lte=now - WINDOW - LOCKOUT).delete()
    LoginFailure.objects.create(time=now, username=username, source_ip=source_ip)
    audit.record(
        AuditEvent.Action.LOGIN_FAILED, actor=_actor(username), source_ip=source_ip, outcome="failed", error=error
    )


def record_success(username: str, source_ip: str | None) -> None:
    # The person got in: earlier typos must not count towards locking them out later.
    LoginFailure.objects.filter(username=username).delete()
    audit.record(AuditEvent.Action.LOGIN, actor=username, source_ip=source_ip, outcome="succeeded")
