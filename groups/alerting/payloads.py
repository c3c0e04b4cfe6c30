"""What a notification says: the documented JSON body, and the Slack and email forms made from it.

Pure: the caller passes every figure and link, so these are tested without a database.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from groups.chart_scales import duration_text

BODY_VERSION = 1
# The group page's chart ranges, shortest first: a link shows the whole alert on the smallest that fits.
CHART_RANGES = (
    ("1h", timedelta(hours=1)),
    ("6h", timedelta(hours=6)),
    ("24h", timedelta(hours=24)),
    ("7d", timedelta(days=7)),
    ("30d", timedelta(days=30)),
)
_HEADLINES = {"firing": "FIRING", "renotify": "STILL FIRING", "resolved": "RESOLVED"}


def chart_range(since: datetime | None, now: datetime) -> str:
    """The shortest chart range that shows everything since `since` (the longest when it is older)."""
    span = now - since if since is not None else timedelta(0)
    return next((name for name, length in CHART_RANGES if span <= length), CHART_RANGES[-1][0])


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


def alert_body(
    *,
    event: str,
    alert_id: int,
    rule_id: int,
    rule_name: str,
    cluster: str,
    group: str,
    summary: str,
    values: dict,
    firing_since: datetime | None,
    resolved_at: datetime | None,
    notification: int,
    mute: dict | None,
    time: datetime,
    group_url: str,
    chart_url: str,
    alerts_url: str,
) -> dict:
    """The webhook's JSON body (README, section Alerts); the email and Slack texts are made from it."""
    return {
        "version": BODY_VERSION,
        "event": event,
        "alert_id": alert_id,
        "rule": {"id": rule_id, "name": rule_name},
        "cluster": cluster,
        "group": group,
        "status": values.get("status"),
        "summary": summary,
        "values": values,
        "firing_since": iso(firing_since),
        "resolved_at": iso(resolved_at),
        "notification": notification,
        "muted": mute,
        "time": iso(time),
        "links": {"group": group_url, "chart": chart_url, "alerts": alerts_url},
    }


def headline(body: dict) -> str:
    return f"[{_HEADLINES[body['event']]}] {body['rule']['name']}: {body['cluster']} / {body['group']}"


def _count(value) -> str:
    """A count as pages write it (groups.templatetags.console.count): thousands separated, 'unknown' for None."""
    return "unknown" if value is None else f"{value:,}"


def _duration(seconds) -> str:
    """A lag in seconds as pages write it ("14m 55s"), 'unknown' for None."""
    return "unknown" if seconds is None else duration_text(seconds)


def _detail_lines(body: dict) -> list[str]:
    values = body["values"]
    # A resolve's summary says how it cleared and why it had fired (groups.alerting.machine.summary).
    lines = [body["summary"]]
    lines.append(
        f"Status {values.get('status')}, total lag {_count(values.get('lag'))}, lag in time "
        f"{_duration(values.get('lag_seconds'))}, members {values.get('members')}."
    )
    lines += [
        f"  {p['topic']}:{p['partition']} {p['status']} {p['reason']}".rstrip() for p in values.get("partitions", [])
    ]
    if body["muted"]:
        lines.append(f"Muted until {body['muted']['until']}: {body['muted']['text']}.")
    lines.append(
        f"Firing since {body['firing_since']}"
        + (f", resolved at {body['resolved_at']}." if body["resolved_at"] else ".")
    )
    return lines


def slack_body(body: dict) -> dict:
    """A Slack-compatible incoming-webhook body (also read by Mattermost and Rocket.Chat)."""
    links = body["links"]
    text = "\n".join(
        [
            f"*{headline(body)}*",
            *_detail_lines(body),
            f"<{links['group']}|Open the group> · <{links['chart']}|Chart> · <{links['alerts']}|Alerts>",
        ]
    )
    return {"text": text}


def email_message(body: dict) -> tuple[str, str]:
    """(subject, plain-text body) of the notification email."""
    links = body["links"]
    text = "\n".join(
        [
            *_detail_lines(body),
            "",
            f"Group: {links['group']}",
            f"Chart: {links['chart']}",
            f"All alerts: {links['alerts']}",
            "",
            f"Rule #{body['rule']['id']} ({body['rule']['name']}), notification {body['notification']}.",
        ]
    )
    return headline(body), text + "\n"
