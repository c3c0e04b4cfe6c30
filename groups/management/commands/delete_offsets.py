"""`python manage.py delete_offsets`: preview or delete a group's committed offsets from the command line.

The options follow `kafka-consumer-groups.sh --delete-offsets --group G --topic T[:P,...]`, and the
plan comes from the same `offset_deletions.preview_deletion` the web preview uses. `--execute`
records an Operation and runs it in this process through the lifecycle, so it is locked,
re-checked, verified and audited exactly as a worker would run it; on a cluster that requires
approval it records the request and stops. `--as USERNAME` names the console user it is done
for: their grants decide (the `delete` action), as on the web, and the audit log names them.
"""

from __future__ import annotations

import json

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError

from groups import access
from groups.kafka import ConsoleError, client_for
from groups.management.cli import add_who_and_where, aligned, cluster_named, dash, run_or_await, user_named
from groups.models import Operation
from groups.operations import lifecycle, offset_deletions
from groups.planning.resets import PlanningError

PLAN_COLUMNS = ("TOPIC", "PARTITION", "COMMITTED", "LOG-START", "LOG-END", "LAG", "NOTE")


class Command(BaseCommand):
    help = (
        "Preview (--dry-run) or delete (--execute) a consumer group's committed offsets of whole topics or "
        "chosen partitions, with the options of kafka-consumer-groups.sh --delete-offsets."
    )

    def add_arguments(self, parser):
        add_who_and_where(
            parser,
            group="the consumer group whose offsets to delete",
            needs="the Admin role (or the delete action) on the group",
        )
        parser.add_argument(
            "--topic",
            action="append",
            required=True,
            metavar="TOPIC[:P,P]",
            help="a topic (every partition), or some of its partitions (orders:0,2); repeatable",
        )
        mode = parser.add_mutually_exclusive_group(required=True)
        mode.add_argument(
            "--dry-run", action="store_true", help="show the partitions and their offsets; delete nothing"
        )
        mode.add_argument("--execute", action="store_true", help="delete the offsets (needs --reason)")
        parser.add_argument("--output", choices=("table", "json"), default="table", help="table (default) or json")
        parser.add_argument(
            "--reason", default="", help="why the offsets go (required with --execute); recorded in the audit log"
        )

    def handle(self, *args, **options):
        if options["execute"] and not options["reason"].strip():
            raise CommandError("--execute needs --reason TEXT: every change records why it was made.")
        cluster = cluster_named(options["cluster"])
        group_id = options["group"]
        user = user_named(options["as_user"])
        try:
            access.require(user, "delete", cluster, group_id)
        except PermissionDenied as denied:
            raise CommandError(str(denied)) from None
        scope = " ".join(options["topic"])
        try:
            preview = offset_deletions.preview_deletion(client_for(cluster), group_id, scope)
        except (PlanningError, ConsoleError) as exc:
            raise CommandError(str(exc)) from None

        self._show_plan(preview, cluster.name, options["output"])
        blocked = preview.blocked_reason
        if options["dry_run"]:
            if blocked:
                self.stderr.write(blocked)
            elif options["output"] == "table":
                self.stdout.write("Dry run: nothing was deleted. Use --execute --reason TEXT to delete these offsets.")
            return
        if blocked:
            raise CommandError(f"{blocked} Nothing was deleted.")

        operation = offset_deletions.request_deletion(
            cluster=cluster,
            group_id=group_id,
            plan=offset_deletions.plan_rows(preview.plan),
            scope=scope,
            reason=options["reason"],
            actor=user.get_username(),
            requester=user,
            via="cli",
            dispatch=False,
        )
        out = self.stdout if options["output"] == "table" else self.stderr
        run_or_await(
            operation,
            cluster,
            out,
            run=lifecycle.execute,
            show=lambda done: self._show_outcome(done, out),
            untouched="deleted",
            then="deletes the offsets",
        )

    def _show_plan(self, preview: offset_deletions.Preview, cluster: str, output: str) -> None:
        plan = preview.plan
        if output == "json":
            rows = [
                {
                    "topic": r.topic,
                    "partition": r.partition,
                    "committed": r.before,
                    "log_start": r.log_start,
                    "log_end": r.log_end,
                    "lag": r.lag,
                    "note": r.note,
                }
                for r in plan.rows
            ]
            self.stdout.write(json.dumps(rows, indent=2))
            for warning in plan.warnings:
                self.stderr.write(f"Warning: {warning}")
            return
        group = preview.group
        self.stdout.write(f"Group '{group.group_id}' on cluster '{cluster}' is {group.state}.")
        self.stdout.write(
            aligned(
                [PLAN_COLUMNS]
                + [
                    (r.topic, r.partition, dash(r.before), dash(r.log_start), dash(r.log_end), dash(r.lag), r.note)
                    for r in plan.rows
                ]
            )
        )
        self.stdout.write(f"Lag of the offsets to delete: {plan.lag}.")
        for warning in plan.warnings:
            self.stdout.write(f"Warning: {warning}")

    def _show_outcome(self, operation: Operation, out) -> None:
        out.write(f"Operation #{operation.pk} {operation.status}.")
        if operation.outcome:
            # As the tool prints its result: TOPIC PARTITION STATUS.
            out.write(
                aligned(
                    [("TOPIC", "PARTITION", "STATUS")]
                    + [
                        (o["topic"], o["partition"], f"Error: {o['error']}" if o["error"] else "Successful")
                        for o in operation.outcome
                    ]
                )
            )
