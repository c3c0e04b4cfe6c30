"""Sending notifications: claim a delivery, post the webhook or mail it, and retry with backoff.

Evaluation only writes `AlertDelivery` rows; the `notifications` queue's worker sends them here.
A delivery is claimed by a conditional update before each attempt, so a task delivered twice, or a
retry racing the periodic sweep, sends it once. Webhooks go through urllib: one JSON POST with a
timeout needs no dependency, and redirects are refused rather than followed (a POST turned into a
GET would look delivered).
"""

from __future__ import annotations

import json
import logging
import smtplib
import urllib.error
import urllib.request
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.core.mail import EmailMessage
from django.db.models import F
from django.utils import timezone

from groups.alerting import destinations, payloads
from groups.models import AlertDelivery

logger = logging.getLogger(__name__)

# How long a claimed attempt keeps others off: longer than a webhook's timeout or an SMTP exchange.
CLAIM_SECONDS = 120
# How long a notification waits for an earlier one of its alert to the same target, between looks.
ORDER_WAIT_SECONDS, ORDER_WAIT_MAX_SECONDS = 1.0, 10.0
ERROR_TEXT_LIMIT = 300


class DeliveryFailed(Exception):
    """An attempt that did not deliver; the message says why, for the alerts page."""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def backoff_seconds(attempts: int) -> float:
    """The wait after the `attempts`-th failed attempt: the base, doubled each time."""
    return settings.ALERT_RETRY_BASE_SECONDS * 2 ** (attempts - 1)


def post_webhook(url: str, body: dict, resolve: destinations.Resolver = destinations.resolve_host) -> None:
    """POST `body` as JSON to `url`, once its host is resolved (by `resolve`) to no link-local address."""
    try:
        refusal = destinations.link_local_refusal(url, resolve)
    except destinations.DestinationError as error:
        raise DeliveryFailed(f"cannot reach the receiver: {error}") from None
    if refusal:
        raise DeliveryFailed(f"not sent: {refusal}")
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "kafka-console-alerts/1"},
    )
    try:
        with _opener.open(request, timeout=settings.ALERT_WEBHOOK_TIMEOUT_SECONDS) as response:
            response.read(65536)
    except urllib.error.HTTPError as error:
        detail = error.read(ERROR_TEXT_LIMIT).decode("utf-8", "replace").strip()
        raise DeliveryFailed(
            f"the receiver answered HTTP {error.code} {error.reason}" + (f": {detail}" if detail else "")
        ) from None
    except urllib.error.URLError as error:
        raise DeliveryFailed(f"cannot reach the receiver: {error.reason}") from None
    except (TimeoutError, OSError) as error:
        raise DeliveryFailed(f"the receiver did not answer: {error}") from None


def send_email(addresses: list[str], body: dict) -> None:
    subject, text = payloads.email_message(body)
    try:
        EmailMessage(subject, text, settings.DEFAULT_FROM_EMAIL, addresses).send()
    except (smtplib.SMTPException, OSError) as error:
        raise DeliveryFailed(
            f"the mail server {settings.EMAIL_HOST}:{settings.EMAIL_PORT} refused or failed: {error}"
        ) from None


def _send(delivery: AlertDelivery) -> None:
    if delivery.channel == AlertDelivery.Channel.EMAIL:
        send_email([address.strip() for address in delivery.target.split(",")], delivery.payload)
    elif delivery.webhook_format == "slack":
        post_webhook(delivery.target, payloads.slack_body(delivery.payload))
    else:
        post_webhook(delivery.target, delivery.payload)


def _claim(delivery_id: int) -> bool:
    now = timezone.now()
    return (
        AlertDelivery.objects.filter(
            pk=delivery_id,
            delivered_at__isnull=True,
            gave_up_at__isnull=True,
            next_attempt__lte=now,
        ).update(next_attempt=now + timedelta(seconds=CLAIM_SECONDS), attempts=F("attempts") + 1)
        == 1
    )


def _earlier_pending_until(delivery_id: int) -> float | None:
    """Seconds to wait while an earlier notification of the same alert to the same target is not delivered
    yet (nor given up), so that a receiver never gets 'resolved' before its 'firing'; None when none is."""
    mine = AlertDelivery.objects.filter(pk=delivery_id).values("state_id", "channel", "target").first()
    if mine is None:
        return None
    earlier = list(
        AlertDelivery.objects.filter(**mine, pk__lt=delivery_id, delivered_at__isnull=True, gave_up_at__isnull=True)
        .order_by("pk")
        .values_list("next_attempt", flat=True)[:1]
    )
    if not earlier:
        return None
    due = earlier[0]
    # Its next attempt, or a claimed one under way (due in CLAIM_SECONDS, most likely done in a moment):
    # looked at again within ORDER_WAIT_MAX_SECONDS either way.
    due_in = (due - timezone.now()).total_seconds() if due else 0.0
    return min(ORDER_WAIT_MAX_SECONDS, max(ORDER_WAIT_SECONDS, due_in + ORDER_WAIT_SECONDS))


def deliver(delivery_id: int) -> None:
    """Make one attempt at a due delivery (nothing if it is not due, delivered or given up), after the
    earlier notifications of its alert to the same target."""
    wait = _earlier_pending_until(delivery_id)
    if wait is not None:
        # Not an attempt: it stays due, and goes once the earlier one has (or has been given up).
        enqueue([delivery_id], countdown=wait)
        return
    if not _claim(delivery_id):
        return
    delivery = AlertDelivery.objects.get(pk=delivery_id)
    try:
        try:
            _send(delivery)
        except DeliveryFailed:
            raise
        except Exception as error:
            # A bug must still end the attempt visibly, counted against the attempts, not loop unseen.
            logger.exception("alert delivery %s failed unexpectedly", delivery_id)
            raise DeliveryFailed(f"unexpected error: {error!r}") from error
    except DeliveryFailed as error:
        now = timezone.now()
        message = str(error)[: ERROR_TEXT_LIMIT * 2]
        if delivery.attempts >= settings.ALERT_DELIVERY_ATTEMPTS:
            AlertDelivery.objects.filter(pk=delivery_id).update(last_error=message, next_attempt=None, gave_up_at=now)
            logger.warning("alert delivery %s gave up after %s attempts: %s", delivery_id, delivery.attempts, message)
            return
        delay = backoff_seconds(delivery.attempts)
        AlertDelivery.objects.filter(pk=delivery_id).update(
            last_error=message, next_attempt=now + timedelta(seconds=delay)
        )
        logger.info(
            "alert delivery %s failed (attempt %s), again in %s s: %s", delivery_id, delivery.attempts, delay, message
        )
        enqueue([delivery_id], countdown=delay)
        return
    AlertDelivery.objects.filter(pk=delivery_id).update(delivered_at=timezone.now(), next_attempt=None)


# Queued by name: groups.tasks imports this module.
DELIVER_TASK = "groups.tasks.deliver_alert"


def enqueue(delivery_ids: list[int], countdown: float = 0) -> None:
    """Hand deliveries to the notifications queue without waiting on it: one connection attempt, no
    retry loop (Celery's own would hold the caller for seconds per task). If the queue cannot be
    reached now, the rows stay due and `send_due` hands them over later."""
    if not delivery_ids:
        return
    deliver_alert = current_app.tasks[DELIVER_TASK]
    try:
        with current_app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=0)
            for delivery_id in delivery_ids:
                # celery-types omits `connection`, which apply_async hands on to send_task.
                deliver_alert.apply_async(  # type: ignore[call-arg]
                    (delivery_id,), countdown=countdown, retry=False, connection=connection
                )
    except Exception as error:  # any broker failure: the sweep is the fallback, the caller must go on
        logger.warning("could not queue alert deliveries %s (the sweep will): %s", delivery_ids, error)


def send_due() -> list[int]:
    """Queue every delivery whose attempt is due (lost tasks, a queue that was down); the beat runs it."""
    due = list(AlertDelivery.objects.filter(next_attempt__lte=timezone.now()).values_list("pk", flat=True)[:1000])
    enqueue(due)
    return due
