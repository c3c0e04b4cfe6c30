"""`python manage.py reset_share_offsets`: preview or apply a reset of a share group's start offsets.

The options are `kafka-share-groups --reset-offsets`' (--group, --topic or --all-topics, --to-earliest,
--to-latest, --to-datetime, --dry-run or --execute), plus the console's --to-offset; the plan comes
from the same `share_resets.preview_share_reset` the web preview uses, and --execute records an
Operation and runs it in this process, locked, re-checked, verified and audited as a worker runs it.
On a cluster that requires approval it records the request and stops. `--as USERNAME` names the
console user it is done for: their grants decide, and the audit log names them.
"""

from __future__ import annotations

import json

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError

from groups import access
from groups.kafka import ConsoleError, client_for, share_client_for
from groups.management.cli import (
    add_strategies,
    add_who_and_where,
    aligned,
    cluster_named,
    dash,
    run_or_await,
    user_named,
)
from groups.operations import resets, share_resets
from groups.planning import resets as planning

# (metavar of the value, or None for a flag; help), in the tool's words where it has the option.
CLI_STRATEGIES = {
    "to-earliest": (None, "move to the log start"),
    "to-latest": (None, "move to the log end"),
    "to-datetime": ("YYYY-MM-DDTHH:mm:SS.sss", "move to the first record at or after this time (UTC without a zone)"),
    "to-offset": ("N", "move to offset N, clamped to the log (the console's; kafka-share-groups has no such option)"),
}


class Command(BaseCommand):
    help = (
        "Preview (--dry-run) or apply (--execute) a reset of an Empty share group's start offsets, with the "
        "options and the results of kafka-share-groups --reset-offsets."
    )

    def add_arguments(self, parser):
        add_who_and_where(parser, group="the share group to reset", needs="the reset action on the group")
        scope = parser.add_mutually_exclusive_group(required=True)
        scope.add_argument("--all-topics", action="store_true", help="every share-partition the group has state for")
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
        parser.add_argument("--output", choices=("table", "json"), default="table", help="table (default) or json")
        parser.add_argument(
            "--reason",
            default="",
            help="why the start offsets move (required with --execute); recorded in the audit log",
        )

    def handle(self, *args, **options):
        kind = next(k for k in CLI_STRATEGIES if options[k.replace("-", "_")] not in (None, False))
        value = options[kind.replace("-", "_")] if CLI_STRATEGIES[kind][0] else ""
        scope_text = " ".join(options["topic"])
        if options["execute"] and not options["reason"].strip():
            raise CommandError("--execute needs --reason TEXT: every change records why it was made.")
        cluster = cluster_named(options["cluster"])
        group_id = options["group"]
        user = user_named(options["as_user"])
        try:
            access.require(user, "reset", cluster, group_id)
        except PermissionDenied as denied:
            raise CommandError(str(denied)) from None
        try:
            preview = share_resets.preview_share_reset(
                share_client_for(cluster), client_for(cluster), group_id, kind, value, scope_text
            )
        except (planning.PlanningError, ConsoleError) as exc:
            raise CommandError(str(exc)) from None

        self._show_plan(preview, options["output"])
        blocked = preview.blocked_reason
        if options["dry_run"]:
            if blocked:
                self.stderr.write(blocked)
            elif options["output"] == "table":
                self.stdout.write("Dry run: nothing was written. Use --execute --reason TEXT to apply this plan.")
            return
        if blocked:
            raise CommandError(f"{blocked} Nothing was written.")
        operation = share_resets.request_share_reset(
            cluster=cluster,
            group_id=group_id,
            plan=resets.plan_rows(preview.plan),
            reason=options["reason"],
            actor=user.get_username(),
            requester=user,
            via="cli",
            strategy=kind,
            strategy_value=value,
            scope=scope_text,
            dispatch=False,
        )
        out = self.stdout if options["output"] == "table" else self.stderr
        run_or_await(
            operation,
            cluster,
            out,
            run=resets.run_operation,
            show=lambda done: out.write(f"Operation #{done.pk} {done.status}."),
            untouched="written",
            then="applies it",
        )

    def _show_plan(self, preview: share_resets.SharePreview, output: str) -> None:
        group, plan = preview.group, preview.plan
        warnings = list(plan.warnings)
        if preview.zone_assumed:
            warnings.insert(0, "The date and time has no zone, so it was read as UTC, as kafka-share-groups does.")
        if output == "json":
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
            for warning in warnings:
                self.stderr.write(f"Warning: {warning}")
            return
        self.stdout.write(f"Share group '{group.group_id}' is {group.state}.")
        if not plan.rows:
            self.stdout.write("No share-partition is in scope.")
            return
        self.stdout.write(
            aligned(
                [("GROUP", "TOPIC", "PARTITION", "START-OFFSET", "NEW-OFFSET", "LOG-START", "LOG-END", "NOTE")]
                + [
                    (
                        group.group_id,
                        r.topic,
                        r.partition,
                        dash(r.before),
                        r.after,
                        r.log_start,
                        r.log_end,
                        r.clamped or r.note or "",
                    )
                    for r in plan.rows
                ]
            )
        )
        for warning in warnings:
            self.stdout.write(f"Warning: {warning}")
