"""The one lifecycle of every operation: request, claim, lock, run, finish, reap.

An operation is requested (its row and an audit event, handed to a worker once committed, or left
awaiting approval), claimed by exactly one run through a conditional update, checked again
against its requester's rights, run (under its group's lock when it changes a group), and
finished once, with an audit event. Nothing but this package creates or moves Operation rows.

A kind of operation (reset, deletion, replay) supplies only its own steps, by subclassing `Run`
with its kind: `execute` picks the subclass by the operation's kind, the one place where the
worker dispatches on kind. Domain code enqueues tasks by name, so nothing here imports the tasks.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, ClassVar

import kombu.exceptions
import redis
from celery import current_app
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from groups import access, audit, logs
from groups.kafka import ClusterClient, ConsoleError, GroupDescription, client_for
from groups.models import AuditEvent, Cluster, Operation
from groups.operations.active_groups import active_group_message

logger = logging.getLogger(__name__)

RUN_TASK = "groups.tasks.run_operation"
UNEXPECTED = "The worker failed unexpectedly (the error is in its log)."


class RequestRefused(ValueError):
    """A request that cannot be recorded as given; the message says what to change."""


class AlreadyRequested(RequestRefused):
    """The preview was confirmed before: operation `operation_id` is what it asked for."""

    def __init__(self, operation_id: int):
        super().__init__(
            f"This preview was already requested as operation #{operation_id}: nothing more was requested. "
            "Open that operation, or preview again to ask for another change."
        )
        self.operation_id = operation_id


def request(
    *,
    cluster: Cluster,
    kind: str,
    plan: list[dict],
    reason: str,
    actor: str,
    requester=None,
    via: str = "web",
    source_ip: str | None = None,
    dispatch: bool = True,
    details: Callable[[Operation], Any] | None = None,
    **fields: Any,
) -> Operation:
    """Record the operation and its audit event, and hand it to a worker once the row is committed.

    `fields` are the kind's own columns (group id, strategy, undo_of, progress_total...);
    `details(operation)` writes its own rows in the same transaction. With dispatch=False the
    caller runs it itself through `execute` (the CLI does), which claims, locks and records
    exactly as the worker would. On a cluster that requires approval the operation waits for a
    decision instead (see `groups.operations.approvals`), and nothing runs it yet.
    """
    if not reason.strip():
        raise RequestRefused("Say why: a reason is required for every change.")
    awaiting = cluster.require_approval
    nonce = fields.get("preview_nonce", "")
    with transaction.atomic():
        try:
            # A savepoint: a second confirmation racing this one breaks the unique nonce, not the transaction.
            with transaction.atomic():
                operation = Operation.objects.create(
                    kind=kind,
                    cluster=cluster,
                    plan=plan,
                    reason=reason.strip(),
                    requester=requester,
                    requested_via=via,
                    status=Operation.Status.AWAITING_APPROVAL if awaiting else Operation.Status.PENDING,
                    expires_at=timezone.now() + timedelta(minutes=cluster.approval_expiry_minutes)
                    if awaiting
                    else None,
                    **fields,
                )
        except IntegrityError:
            if not nonce:
                raise
            # A double click, a retried request or a second tab confirmed the same preview again: once is enough.
            earlier = Operation.objects.filter(preview_nonce=nonce).values_list("pk", flat=True).first()
            if earlier is None:  # the one that broke the constraint was rolled back since
                raise
            raise AlreadyRequested(earlier) from None
        if details is not None:
            details(operation)
        audit.record(
            AuditEvent.Action.UNDO_REQUESTED if operation.undo_of_id else AuditEvent.Action.REQUESTED,
            actor=actor,
            operation=operation,
            source_ip=source_ip,
            outcome=operation.status,
        )
        if dispatch and not awaiting:
            transaction.on_commit(lambda: dispatch_operation(operation))
    return operation


def enqueue(task_name: str, *args: Any) -> None:
    """Queue the task registered under `task_name`; raises kombu's OperationalError when the queue is unreachable."""
    current_app.tasks[task_name].delay(*args)


def dispatch_operation(operation: Operation) -> None:
    """Queue the operation for a worker; if the queue is unreachable, fail it rather than leave it pending forever."""
    try:
        enqueue(RUN_TASK, operation.pk)
    except kombu.exceptions.OperationalError as exc:
        error = (
            f"The task queue could not be reached ({exc}), so no worker will run this operation and nothing "
            "was changed. Check that Redis is up, then preview again."
        )
        with transaction.atomic():  # the failure and its audit event, seen together
            failed = Operation.objects.filter(pk=operation.pk, status=Operation.Status.PENDING).update(
                status=Operation.Status.FAILED, finished=timezone.now(), error=error
            )
            if failed:
                operation.refresh_from_db()
                audit.record(
                    AuditEvent.Action.FAILED, actor="console", operation=operation, outcome="failed", error=error
                )


def group_lock_name(cluster_id: int, group_id: str) -> str:
    """The Redis key that serializes operations on one group of one cluster."""
    return f"console:group-lock:{cluster_id}:{group_id}"


def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def _take_group_lock(lock, operation: Operation) -> str | None:
    """Take the group's lock, or return which operation holds it ("Operation #12").

    The holder can release between our failed attempt and our look at who held it; then we
    simply try again, so the answer is always either the lock or a name.
    """
    for _ in range(5):
        if lock.acquire(blocking=False, token=str(operation.pk)):
            return None
        holder = _redis().get(group_lock_name(operation.cluster_id, operation.group_id))
        if holder is not None:
            return f"Operation #{holder.decode() if isinstance(holder, bytes) else holder}"
    return "Another operation (the lock changed hands repeatedly)"


@dataclass(frozen=True)
class Review:
    """A request checked against the cluster now, as an approver must see it before deciding.

    `checks` compare a reset's offsets as requested with the same request planned now; `error`
    says why it could not be checked, or why it could no longer run as requested.
    """

    group: GroupDescription | None = None
    checks: tuple[Any, ...] = ()
    error: str = ""
    deleting: bool = False  # the request deletes the group (else it changes offsets)
    requester_refused: str = ""  # why its requester may no longer have it done (Run.requester_refusal)
    offset: str = "committed offset"  # what the plan moves, in its group's words (a share group's: start offset)

    @property
    def moved(self) -> list[Any]:
        return [check for check in self.checks if check.moved]

    @property
    def differing(self) -> list[Any]:
        return [check for check in self.checks if check.differs]

    @property
    def blocked_reason(self) -> str | None:
        """Why approving now would be wrong, if it would; the approver can still reject."""
        if self.requester_refused:
            return (
                f"Its requester no longer holds the right to this: {self.requester_refused} A worker checks the "
                "requester's rights again before it runs, so approving would be refused. Reject it, or ask an admin "
                "to restore the requester's grant and approve it then."
            )
        if self.error:
            return (
                f"The request could not be checked against the group now: {self.error} "
                "Approve once it can be checked, or reject it."
            )
        if self.group is not None and self.group.is_active:
            return (
                f"{active_group_message(self.group, deleting=self.deleting)} As the group stands now, a worker "
                "would refuse. "
                "Approve once its consumers are stopped, or reject it."
            )
        moved = len(self.moved)
        if moved:
            return (
                f"The group's {self.offset}s moved on {moved} partition{'s' if moved > 1 else ''} since the "
                "request, so a worker would refuse this plan. Reject it; the requester can preview again "
                "against the current offsets."
            )
        return None


class Run:
    """One run of an operation, from its claim to its finish; a kind subclasses it with its own steps.

    A subclass names its kind (`class ResetRun(Run, kind=Operation.Kind.RESET)`) and supplies
    `execute_steps` (the change itself, which finishes the run), and where it differs from these
    defaults: the right its requester must still hold, whether it holds its group's lock, how a
    redelivered task may take over, what a failed run leaves behind, the fields every finish
    writes, how an approver reviews it, and how its silent runs are reaped.
    """

    kinds: ClassVar[dict[str, type[Run]]] = {}
    kind: ClassVar[str]
    # The right the requester must still hold when a run starts, on the operation's group (else on its cluster).
    action: ClassVar[str]
    on_group: ClassVar[bool] = True
    locks_group: ClassVar[bool] = False
    # A redelivered task may take over a run silent this long; None: a claimed operation is never run again.
    resume_after: ClassVar[timedelta | None] = None
    # Said after a refusal at the start of a run.
    refused_note: ClassVar[str] = "This was checked again when a worker started the operation, so nothing was changed."

    def __init_subclass__(cls, kind: str = "", **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if kind:
            cls.kind = kind
            Run.kinds[kind] = cls

    def __init__(self, operation: Operation, attempt: int, time_limit: float | None = None):
        """`attempt` is the run's number: only the run holding the operation under it may finish it."""
        self.operation = operation
        self.attempt = attempt
        self.time_limit = time_limit

    # The steps a kind supplies.

    def execute_steps(self, client: ClusterClient) -> None:
        raise NotImplementedError

    def left_behind(self, unexpected: bool) -> str:
        """What a failed run leaves in place, said after its error; `unexpected`: not a ConsoleError."""
        return ""

    def finish_fields(self) -> tuple[dict[str, Any], list | None]:
        """Fields every finish of this kind writes, and the plan its audit event records (None: the plan)."""
        return {}, None

    @classmethod
    def review(cls, operation: Operation) -> Review:
        """The request checked against the cluster now, for an approver; reads Kafka, writes nothing."""
        return Review()

    @staticmethod
    def reap_stale() -> list[int]:
        """Resume or fail the running operations of the kind whose run went silent; their ids.

        Kinds that share one reaper share the function, so `reap` calls it once.
        """
        return []

    # The lifecycle.

    @classmethod
    def claim(cls, operation_id: int, takeover: int | None = None) -> int | None:
        """The run number this call now holds, or None when the operation is not its to run.

        Without `takeover` it claims a pending operation or, for a kind that resumes (a redelivered
        task), a running one whose run has been silent `resume_after`. With `takeover=N` it takes
        the operation over from run N.
        """
        now = timezone.now()
        rows = Operation.objects.filter(pk=operation_id, kind=cls.kind)
        if takeover is None:
            if rows.filter(status=Operation.Status.PENDING).update(
                status=Operation.Status.RUNNING, started=now, heartbeat=now, progress_updated=now, replay_attempt=1
            ):
                return 1
            if cls.resume_after is None:
                return None
            takeover = (
                rows.filter(status=Operation.Status.RUNNING, heartbeat__lt=now - cls.resume_after)
                .values_list("replay_attempt", flat=True)
                .first()
            )
            if takeover is None:
                return None
        if rows.filter(status=Operation.Status.RUNNING, replay_attempt=takeover).update(
            replay_attempt=takeover + 1, heartbeat=now
        ):
            return takeover + 1
        return None

    def finish(self, status: str, *, error: str = "", outcome: list | None = None) -> bool:
        """Move the running operation to a final status, once, and record it; False if something else
        finished it first, or a later run holds it."""
        fields, audit_plan = self.finish_fields()
        fields.update(status=status, finished=timezone.now(), error=error)
        if outcome is not None:
            fields["outcome"] = outcome
        running = Operation.objects.filter(
            pk=self.operation.pk, status=Operation.Status.RUNNING, replay_attempt=self.attempt
        )
        # One transaction, as a decision's: nobody sees the final status without its audit event.
        with transaction.atomic():
            if not running.update(**fields):
                return False
            self.operation.refresh_from_db()
            audit.record(
                AuditEvent.Action(status),
                actor="worker",
                operation=self.operation,
                plan=audit_plan,
                outcome=status,
                error=error,
            )
        return True

    @classmethod
    def requester_refusal(cls, operation: Operation, action: str = "") -> str | None:
        """Why the requester may no longer have `operation` done, if a right was withdrawn since the request;
        None while they may. Writes nothing: a run records it (`refusal`), an approver is told before deciding.

        `action` is the right to check, the kind's own by default. Operations without a requester come
        from code that checked its caller itself (the CLI checks its --as user); they are not checked again.
        """
        requester = operation.requester
        action = action or cls.action
        group_id = operation.group_id if cls.on_group else None
        if requester is None or access.allowed(requester, action, operation.cluster, group_id):
            return None
        return access.refusal(action, operation.cluster, group_id, who=requester.get_username())

    def refusal(self) -> str | None:
        """The requester's refusal at the start of this run, recorded, or None when they still may."""
        requester, refused = self.operation.requester, self.requester_refusal(self.operation)
        if requester is None or refused is None:
            return None
        error = f"{refused} {self.refused_note}"
        audit.record(
            AuditEvent.Action.DENIED,
            actor=requester.get_username(),
            operation=self.operation,
            outcome="denied",
            error=error,
        )
        return error

    def run(self) -> None:
        """Record the start, check the rights again, take the group's lock, execute, and finish on failure."""
        operation = self.operation
        if self.attempt == 1:
            audit.record(AuditEvent.Action.STARTED, actor="worker", operation=operation, outcome="running")
        refused = self.refusal()
        if refused:
            self.finish(Operation.Status.FAILED, error=refused)
            return
        lock = None
        if self.locks_group:
            lock = _redis().lock(
                group_lock_name(operation.cluster_id, operation.group_id), timeout=settings.CELERY_TASK_TIME_LIMIT
            )
            try:
                holder = _take_group_lock(lock, operation)
            except redis.RedisError as exc:
                self.finish(Operation.Status.FAILED, error=f"Redis is unavailable ({exc}); nothing was changed.")
                return
            if holder is not None:
                self.finish(
                    Operation.Status.FAILED,
                    error=f"{holder} is running on this group right now, so this one changed nothing. "
                    "Preview again once it has finished.",
                )
                return
            logger.info("operation %s holds the lock of its group", operation.pk)
        try:
            self.execute_steps(client_for(operation.cluster))
        except ConsoleError as exc:
            self.finish(Operation.Status.FAILED, error=self._failure(exc.message, unexpected=False))
        except Exception:
            logger.exception("operation %s failed unexpectedly", operation.pk)
            self.finish(Operation.Status.FAILED, error=self._failure(UNEXPECTED, unexpected=True))
            raise
        finally:
            if lock is not None:
                # Said before the release, so one operation's "holds" and "releases" lines never
                # straddle another's.
                logger.info("operation %s releases the lock of its group", operation.pk)
                # Expired or Redis gone: the lock's timeout frees it either way.
                with contextlib.suppress(redis.RedisError):
                    lock.release()

    def _failure(self, message: str, *, unexpected: bool) -> str:
        return " ".join(part for part in (message, self.left_behind(unexpected)) if part)


def execute(operation_id: int, *, takeover: int | None = None, time_limit: float | None = None) -> None:
    """Claim the operation and run it with its kind's steps; safe to call twice (a redelivered task).

    `takeover=N` takes a resumable operation over from its run N; `time_limit` (seconds) is the
    task's soft limit, which a long run hands its work over before.
    """
    with logs.operation_context(operation_id):
        kind = Operation.objects.filter(pk=operation_id).values_list("kind", flat=True).first()
        if kind is None:
            logger.info("operation %s no longer exists; nothing to run", operation_id)
            return
        run_class = Run.kinds[kind]
        attempt = run_class.claim(operation_id, takeover)
        if attempt is None:
            logger.info("operation %s is not this run's to claim (already claimed, or finished)", operation_id)
            return
        logger.info("operation %s claimed as run %s", operation_id, attempt)
        operation = Operation.objects.select_related("cluster", "requester").get(pk=operation_id)
        run_class(operation, attempt, time_limit).run()
        logger.info("operation %s run %s ended: %s", operation_id, attempt, _status_of(operation_id))


def _status_of(operation_id: int) -> str:
    return Operation.objects.filter(pk=operation_id).values_list("status", flat=True).first() or "gone"


def review(operation: Operation) -> Review:
    """The request checked against the cluster now, as its kind reviews it, and against its requester's
    rights now, as a run checks them."""
    return replace(Run.kinds[operation.kind].review(operation), requester_refused=requester_refusal(operation) or "")


def requester_refusal(operation: Operation) -> str | None:
    """Why the requester may no longer have `operation` done, as a run of its kind checks it; writes nothing."""
    return Run.kinds[operation.kind].requester_refusal(operation)


def reap() -> list[int]:
    """Resume or fail every running operation whose run went silent, as its kind does it; their ids."""
    reaped: list[int] = []
    for reap_kind in dict.fromkeys(run_class.reap_stale for run_class in Run.kinds.values()):
        reaped += reap_kind()
    return reaped


def fail_silent(operations: list[Operation], state_of: Callable[[Operation], str]) -> list[int]:
    """Fail each of `operations` (stale ones) as the run that went silent, saying `state_of` it; their ids.

    Should a late run have finished one meanwhile, `finish` refuses and it is left as that run left it.
    """
    failed = []
    for operation in operations:
        if Run.kinds[operation.kind](operation, operation.replay_attempt).finish(
            Operation.Status.FAILED,
            error=f"The worker running this operation stopped without reporting back. {state_of(operation)}",
        ):
            failed.append(operation.pk)
    return failed


def stale(kinds: list[str], silent_for: timedelta) -> list[Operation]:
    """Running operations of these kinds that have not reported for `silent_for`."""
    cutoff = timezone.now() - silent_for
    return list(
        Operation.objects.select_related("cluster").filter(
            kind__in=kinds, status=Operation.Status.RUNNING, heartbeat__lt=cutoff
        )
    )
