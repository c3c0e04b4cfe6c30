"""What the console's management commands share: turning --as and --cluster into rows, or one clear error,
and the text of their tables."""

import contextlib
from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from groups.access import ROLE_NEEDED
from groups.models import Cluster, Operation


def user_named(username: str):
    """The active console user `--as` names."""
    try:
        user = get_user_model().objects.get_by_natural_key(username)
    except get_user_model().DoesNotExist:
        raise CommandError(f"Unknown user '{username}': --as names a user of the console.") from None
    if not user.is_active:
        raise CommandError(f"User '{username}' is inactive: an inactive user may do nothing.")
    return user


def cluster_named(name: str) -> Cluster:
    """The registered cluster `--cluster` names; the error lists the registered ones."""
    try:
        return Cluster.objects.get(name=name)
    except Cluster.DoesNotExist:
        known = ", ".join(Cluster.objects.values_list("name", flat=True)) or "none (run manage.py sync_clusters)"
        raise CommandError(f"Unknown cluster '{name}'. Registered clusters: {known}.") from None


def aligned(rows: list[tuple]) -> str:
    """Rows as a plain-text table: each column as wide as its widest cell, two spaces apart."""
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    lines = ("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows)
    return "\n".join(line.rstrip() for line in lines)


def add_who_and_where(parser, *, group: str | None, needs: str) -> None:
    """The options every acting command takes: --cluster, --group (`group` says which group it is, or
    None for a command that names no group) and --as, whose help says the right it `needs`."""
    parser.add_argument("--cluster", required=True, help="name of the cluster as registered in the console")
    if group:
        parser.add_argument("--group", required=True, help=group)
    parser.add_argument(
        "--as",
        dest="as_user",
        required=True,
        metavar="USERNAME",
        help=f"the console user this is done for: needs {needs}; recorded in the audit log",
    )


def dash(value) -> str:
    """A table cell for a value that may be unknown."""
    return "-" if value is None else str(value)


def add_strategies(parser, strategies: dict[str, tuple[str | None, str]]) -> None:
    """One required choice among `strategies` (--name: (metavar of its value, or None for a flag; help))."""
    strategy = parser.add_mutually_exclusive_group(required=True)
    for kind, (metavar, text) in strategies.items():
        if metavar:
            strategy.add_argument(f"--{kind}", metavar=metavar, help=text)
        else:
            strategy.add_argument(f"--{kind}", action="store_true", help=text)


def awaiting_approval(operation, cluster: Cluster, *, untouched: str, then: str) -> str:
    """What a command says when its request waits for a second person: nothing `untouched` (written,
    deleted) yet, and what a worker does `then`."""
    return (
        f"Operation #{operation.pk} is awaiting approval: cluster '{cluster.name}' requires another "
        f"user with the {ROLE_NEEDED['approve']} role to approve it before "
        f"{operation.expires_at:%Y-%m-%d %H:%M:%S} UTC. Nothing was {untouched}; a worker {then} once it is approved."
    )


def run_or_await(
    operation: Operation,
    cluster: Cluster,
    out,
    *,
    run: Callable[[int], object],
    show: Callable[[Operation], None],
    untouched: str,
    then: str,
) -> None:
    """Carry out a recorded operation in this process as a worker would (`run` its id), `show` how it ended and
    raise CommandError unless it succeeded; or, when it awaits approval, say so on `out` and stop."""
    if operation.is_awaiting_approval:
        # Approval is a different person's decision, taken on the web; a worker runs it then.
        out.write(awaiting_approval(operation, cluster, untouched=untouched, then=then))
        return
    # An unexpected error is already logged and recorded on the operation by `run`: its status and
    # error say what happened.
    with contextlib.suppress(Exception):
        run(operation.pk)
    operation.refresh_from_db()
    show(operation)
    if operation.status != Operation.Status.SUCCEEDED:
        raise CommandError(f"Operation #{operation.pk} {operation.status}: {operation.error}")
