"""`python manage.py reset_offsets`: preview or apply an offset reset from the command line.

The options follow `kafka-consumer-groups.sh --reset-offsets`, and the plan comes from the same
`resets.preview_reset` the web preview uses. `--execute` records an Operation and runs it in this
process through `resets.run_operation`, so it is locked, re-checked, verified and audited exactly
as a worker would run it; on a cluster that requires approval it records the request and stops,
and a worker runs it once another user approves it. `--as USERNAME` names the console user it is done for: their grants
decide, as on the web, and the audit log names them. `--delete-internal-topics` (a streams group only) also deletes
its application's internal topics once the reset succeeded, the ones the page's preview lists.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError

from groups import access
from groups.kafka import ConsoleError, client_for
from groups.management.cli import (
    add_strategies,
    add_who_and_where,
    aligned,
    cluster_named,
    dash,
    run_or_await,
    user_named,
)
from groups.models import Cluster, Operation
from groups.operations import internal_topics, resets
from groups.planning import inputs
from groups.planning import resets as planning
from groups.planning.streams_topics import STALE_STATE_WARNING, InternalTopicsPlan

# The tool's scenarios plus the console's --from-group: (metavar of the value, or None for a flag; help).
CLI_STRATEGIES = {
    "to-earliest": (None, "move to the log start"),
    "to-latest": (None, "move to the log end (high watermark)"),
    "to-current": (None, "commit the committed offsets again; the log end where there is none"),
    "to-offset": ("N", "move to offset N, clamped to the log"),
    "shift-by": ("N", "move each committed offset by N (negative: back), clamped to the log"),
    "to-datetime": ("YYYY-MM-DDTHH:mm:SS.sss", "move to the first record at or after this time (UTC without a zone)"),
    "by-duration": ("PnDTnHnMnS", "move to the first record at or after now minus this duration"),
    "from-file": ("FILE", "offsets from a CSV as kafka-consumer-groups --export writes it; takes no scope"),
    "from-group": ("GROUP", "copy another group's committed offsets, clamped to the log"),
}
TABLE_COLUMNS = ("TOPIC", "PARTITION", "BEFORE", "AFTER", "LOG-START", "LOG-END", "LAG BEFORE→AFTER", "CLAMPED/NOTE")


class Command(BaseCommand):
    help = (
        "Preview (--dry-run) or apply (--execute) an offset reset of an inactive consumer group, "
        "with the options and the results of kafka-consumer-groups.sh --reset-offsets."
    )

    def add_arguments(self, parser):
        add_who_and_where(
            parser, group="the consumer group to reset", needs="the Operator role (or the reset action) on the group"
        )

        scope = parser.add_mutually_exclusive_group()
        scope.add_argument(
            "--all-topics", action="store_true", help="every partition the group has a committed offset for"
        )
        scope.add_argument(
            "--topic",
            action="append",
            default=[],
            metavar="TOPIC[:P,P]",
            help="a topic, or some of its partitions (orders:0,2); repeatable",
        )

        add_strategies(parser, CLI_STRATEGIES)

        mode = parser.add_mutually_exclusive_group(required=True)
        mode.add_argument("--dry-run", action="store_true", help="show the plan; write nothing")
        mode.add_argument("--execute", action="store_true", help="apply the plan (needs --reason)")

        parser.add_argument(
            "--output",
            choices=("table", "csv", "json"),
            default="table",
            help="table (default), csv as kafka-consumer-groups --export writes it, or json",
        )
        parser.add_argument(
            "--reason", default="", help="why the offsets move (required with --execute); recorded in the audit log"
        )
        parser.add_argument(
            "--delete-internal-topics",
            action="store_true",
            help="a streams group only: once the reset succeeded, also delete its application's internal topics "
            "(as kafka-streams-groups --delete-all-internal-topics); a deletion, so it needs the "
            f"{access.ROLE_NEEDED[internal_topics.ACTION]} role (or the delete action) on the group",
        )

    def handle(self, *args, **options):
        kind = next(k for k in CLI_STRATEGIES if options[k.replace("-", "_")] not in (None, False))
        value = options[kind.replace("-", "_")] if CLI_STRATEGIES[kind][0] else ""
        scope_text = " ".join(options["topic"])
        has_scope = options["all_topics"] or bool(options["topic"])
        if kind == "from-file":
            # The tool ignores a scope given with --from-file; refusing it avoids a surprise.
            if has_scope:
                raise CommandError(
                    "--from-file takes its partitions from the file: leave out --all-topics and --topic."
                )
            value = self._read_file(value)
        elif not has_scope:
            raise CommandError("One of the reset scopes should be defined: --all-topics, --topic TOPIC[:P,P].")
        if options["execute"] and not options["reason"].strip():
            raise CommandError("--execute needs --reason TEXT: every change records why it was made.")

        cluster = cluster_named(options["cluster"])
        group_id = options["group"]
        user = user_named(options["as_user"])
        try:
            access.require(user, "reset", cluster, group_id)
            if kind == "from-group":
                access.require(user, "view", cluster, value.strip())
        except PermissionDenied as denied:
            raise CommandError(str(denied)) from None
        try:
            preview = resets.preview_reset(client_for(cluster), group_id, kind, value, scope_text)
        except (planning.PlanningError, ConsoleError) as exc:
            raise CommandError(str(exc)) from None
        deleting = options["delete_internal_topics"]
        if deleting:
            self._require_topic_deletion(preview, user, cluster)

        self._show_plan(preview, cluster, options["output"], deleting)
        blocked = preview.blocked_reason
        if options["dry_run"]:
            if blocked:
                self.stderr.write(blocked)
            elif options["output"] == "table":
                self.stdout.write("Dry run: nothing was written. Use --execute --reason TEXT to apply this plan.")
            return
        if blocked:
            raise CommandError(f"{blocked} Nothing was written.")

        operation = resets.request_operation(
            cluster=cluster,
            group_id=group_id,
            kind=Operation.Kind.RESET,
            plan=resets.plan_rows(preview.plan),
            reason=options["reason"],
            actor=user.get_username(),
            requester=user,
            via="cli",
            strategy=kind,
            strategy_value=value,
            scope=scope_text,
            dispatch=False,
            delete_internal_topics=preview.internal_topics.rows() if deleting and preview.internal_topics else [],
        )
        run_or_await(
            operation,
            cluster,
            self.stdout if options["output"] == "table" else self.stderr,
            run=resets.run_operation,
            show=lambda done: self._show_outcome(done, options["output"]),
            untouched="written",
            then="applies it",
        )

    @staticmethod
    def _require_topic_deletion(preview: resets.Preview, user, cluster: Cluster) -> None:
        """Refuse --delete-internal-topics for a group without internal topics, or a user who may not delete."""
        group = preview.group
        if preview.internal_topics is None:
            what = (
                "does not exist on this cluster"
                if not preview.group_exists
                else f"is a {group.type} group, not a streams group (a Kafka Streams application)"
            )
            raise CommandError(
                f"--delete-internal-topics deletes a streams group's internal topics, but group '{group.group_id}' "
                f"{what}: it has none. Leave the option out."
            )
        try:
            access.require(user, internal_topics.ACTION, cluster, group.group_id)
        except PermissionDenied as denied:
            raise CommandError(f"--delete-internal-topics deletes topics, which is a deletion. {denied}") from None

    def _read_file(self, path: str) -> str:
        try:
            return Path(path).read_text()
        except OSError as exc:
            raise CommandError(f"Cannot read the reset file '{path}': {exc.strerror}.") from None
        except UnicodeDecodeError:
            raise CommandError(f"Cannot read the reset file '{path}': it is not UTF-8 text.") from None

    def _show_plan(self, preview: resets.Preview, cluster: Cluster, output: str, deleting: bool) -> None:
        plan = preview.plan
        warnings = list(plan.warnings)
        if preview.zone_assumed:
            warnings.insert(0, "The date and time has no zone, so it was read as UTC, as kafka-consumer-groups does.")
        topics = preview.internal_topics
        if topics is not None and not deleting and topics.delete:
            warnings.append(f"{STALE_STATE_WARNING} Add --delete-internal-topics to delete {', '.join(topics.names)}.")
        if output == "csv":
            self.stdout.write(inputs.export_csv(plan), ending="")
        elif output == "json":
            rows = [
                {
                    "topic": r.topic,
                    "partition": r.partition,
                    "before": r.before,
                    "after": r.after,
                    "log_start": r.log_start,
                    "log_end": r.log_end,
                    "clamped": r.clamped,
                }
                for r in plan.rows
            ]
            self.stdout.write(json.dumps(rows, indent=2))
        else:
            self._show_table(preview, cluster, warnings)
            if topics is not None and deleting:
                self.stdout.write(self._topics_text(topics))
            return
        # Machine-readable output stays parseable: what a person should notice goes to stderr.
        for warning in warnings:
            self.stderr.write(f"Warning: {warning}")
        if topics is not None and deleting:
            self.stderr.write(self._topics_text(topics))

    @staticmethod
    def _topics_text(topics: InternalTopicsPlan) -> str:
        """The internal topics the reset deletes after it, and those it leaves alone with why, as the page lists."""
        if topics.delete:
            lines = [
                "Internal topics to delete once the reset succeeded (as kafka-streams-groups "
                "--delete-all-internal-topics does), only while the group is Empty and its topology still names "
                "them; deleted topics cannot be brought back:",
                aligned([("TOPIC", "ROLE", "PARTITIONS")] + [(t.name, t.role, t.partitions) for t in topics.delete]),
            ]
        else:
            lines = ["The application has no internal topics on the cluster to delete."]
        if topics.kept:
            lines.append("Left alone:")
            lines += [f"  {topic.name}: {topic.why}." for topic in topics.kept]
        return "\n".join(lines)

    def _show_table(self, preview: resets.Preview, cluster: Cluster, warnings: list[str]) -> None:
        group, plan = preview.group, preview.plan
        self.stdout.write(f"Group '{group.group_id}' on cluster '{cluster.name}' is {group.state}.")
        if not plan.rows:
            self.stdout.write("No partition is in scope.")
            return
        self.stdout.write(
            aligned(
                [TABLE_COLUMNS]
                + [
                    (
                        r.topic,
                        r.partition,
                        dash(r.before),
                        r.after,
                        r.log_start,
                        r.log_end,
                        f"{dash(r.lag_before)}→{r.lag_after}",
                        r.clamped or r.note or "",
                    )
                    for r in plan.rows
                ]
            )
        )
        totals = plan.totals
        before = "-" if totals.lag_before is None else f"{totals.lag_before:,}"
        self.stdout.write(
            f"Total lag {before} → {totals.lag_after:,} (before: partitions with a committed offset); "
            f"{totals.records_to_reconsume:,} records to consume again, {totals.records_to_skip:,} to skip."
        )
        for warning in warnings:
            self.stdout.write(f"Warning: {warning}")

    def _show_outcome(self, operation: Operation, output: str) -> None:
        lines = [f"Operation #{operation.pk} {operation.status}."]
        if operation.outcome:
            lines.append(
                aligned(
                    [("TOPIC", "PARTITION", "PLANNED", "COMMITTED", "VERIFIED")]
                    + [
                        (
                            o["topic"],
                            o["partition"],
                            o["planned"],
                            dash(o["committed"]),
                            "yes" if o["verified"] else "NO",
                        )
                        for o in operation.outcome
                    ]
                )
            )
        if operation.internal_topics:
            lines.append(
                aligned(
                    [("INTERNAL TOPIC", "DELETED", "ERROR")]
                    + [(row["topic"], _deleted_text(row), row.get("error", "")) for row in operation.internal_topics]
                )
            )
        # The plan already on stdout in csv or json must stay parseable.
        out = self.stdout if output == "table" else self.stderr
        for line in lines:
            out.write(line)


def _deleted_text(row: dict) -> str:
    # A run that stopped before the topics' turn (the group changed, a refusal) leaves them without an outcome.
    if "deleted" not in row:
        return "not tried"
    return "yes" if row["deleted"] else "NO"
