"""`python manage.py replay`: preview or run a copy of a topic's records into another topic.

The options are read by the same form as the web page and previewed by the same
`replay.preview_replay`. `--execute` records an Operation and runs it in this process through
`replay.run_replay`, so it is planned, throttled and audited exactly as a worker would run it; on a
cluster that requires approval it records the request and stops, and a worker runs it once another
user approves it. `--as USERNAME` names the console user it is done for: their grants decide, as on
the web, and the audit log names them.
"""

from __future__ import annotations

import json

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError

from groups import access
from groups.forms import ReplayForm, error_text, parse_header_equals
from groups.kafka import ConsoleError, client_for
from groups.management.cli import add_who_and_where, aligned, cluster_named, run_or_await, user_named
from groups.operations import replays as replay
from groups.planning.replays import ReplayError, ReplayPreview, ReplayRequest
from groups.planning.time_text import format_time_ms


def _one_line(text: str | None, width: int = 60) -> str:
    if text is None:
        return "null"
    flat = text.replace("\n", "\\n").replace("\t", "\\t")
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _value_text(sample: dict) -> str:
    truncated = ", truncated" if sample.get("truncated") else ""
    return f"{_one_line(sample.get('value_text'))} ({sample.get('value_kind')}{truncated})"


class Command(BaseCommand):
    help = (
        "Preview (--dry-run) or run (--execute) a copy of a range of a topic's records (by offsets or by time, "
        "optionally filtered) into another topic of the same cluster."
    )

    def add_arguments(self, parser):
        add_who_and_where(parser, group=None, needs="the Operator role (or the replay action) on the cluster")
        parser.add_argument("--topic", required=True, help="the source topic")
        parser.add_argument("--partitions", metavar="P,P", help="only these partitions (default: all)")

        span = parser.add_mutually_exclusive_group(required=True)
        span.add_argument("--offsets", metavar="P:FROM-TO,...", help="[from, to) per partition, such as 0:10-20,1:0-5")
        span.add_argument(
            "--from-offset", type=int, metavar="N", help="the same [N, M) on every chosen partition (with --to-offset)"
        )
        span.add_argument("--from-time", metavar="ISO", help="start of the time window, included (UTC without a zone)")
        parser.add_argument("--to-offset", type=int, metavar="M", help="end of the offset range, excluded")
        parser.add_argument("--to-time", metavar="ISO", help="end of the time window, excluded")

        key = parser.add_mutually_exclusive_group()
        key.add_argument("--key-equals", metavar="KEY", help="copy only records with this key")
        key.add_argument("--key-regex", metavar="REGEX", help="copy only records whose key matches (Python re.search)")
        header = parser.add_mutually_exclusive_group()
        header.add_argument("--header-present", metavar="NAME", help="copy only records carrying this header")
        header.add_argument("--header-equals", metavar="NAME=VALUE", help="copy only records with this header value")

        parser.add_argument("--target", required=True, help="the existing topic the records are copied into")
        parser.add_argument(
            "--partitioning",
            choices=("same", "key-hash"),
            default="same",
            help="same partition number (default) or by key hash (the default partitioner)",
        )
        parser.add_argument(
            "--stamp-now",
            action="store_true",
            help="stamp the copies with the time of the copy instead of keeping the originals'",
        )
        parser.add_argument("--throttle", type=int, metavar="N", help="at most N records per second")
        parser.add_argument(
            "--at-least-once",
            action="store_true",
            help="copy without transactions (faster); a worker that dies mid-copy may leave its last "
            "batch copied twice",
        )

        mode = parser.add_mutually_exclusive_group(required=True)
        mode.add_argument("--dry-run", action="store_true", help="show the preview; write nothing")
        mode.add_argument("--execute", action="store_true", help="copy the records (needs --reason)")
        parser.add_argument("--reason", default="", help="why (required with --execute); recorded in the audit log")
        parser.add_argument("--output", choices=("table", "json"), default="table", help="table (default) or json")

    def handle(self, *args, **options):
        if options["execute"] and not options["reason"].strip():
            raise CommandError("--execute needs --reason TEXT: every change records why it was made.")
        cluster = cluster_named(options["cluster"])
        user = user_named(options["as_user"])
        try:
            access.require(user, "replay", cluster)
        except PermissionDenied as denied:
            raise CommandError(str(denied)) from None
        try:
            client = client_for(cluster)
            wanted, zone_assumed = self._request(client, options)
            preview = replay.preview_replay(client, wanted)
        except (ReplayError, ConsoleError) as exc:
            raise CommandError(str(exc)) from None

        self._show_preview(preview, wanted, zone_assumed, options["output"])
        if options["dry_run"]:
            if options["output"] == "table":
                self.stdout.write("Dry run: nothing was written. Use --execute --reason TEXT to copy these records.")
            return
        operation = replay.request_replay(
            cluster=cluster,
            request=wanted,
            preview=preview,
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
            run=replay.run_replay,
            show=lambda done: out.write(
                f"Operation #{done.pk} {done.status}: copied {done.progress_copied} of "
                f"{done.progress_total} records from {wanted.topic} to {wanted.target_topic}."
            ),
            untouched="written",
            then="copies the records",
        )

    def _request(self, client, options) -> tuple[ReplayRequest, bool]:
        """The options as the web form would have them, read by the same form."""
        data = {
            "partitions_mode": "some" if options["partitions"] else "all",
            "partitions": options["partitions"] or "",
            "target_topic": options["target"],
            "partitioning": options["partitioning"],
            "timestamps": "now" if options["stamp_now"] else "keep",
            "delivery": "at-least-once" if options["at_least_once"] else "exactly-once",
            "throttle": "" if options["throttle"] is None else str(options["throttle"]),
            "key_filter": "none",
            "header_filter": "none",
        }
        if options["from_time"] is not None:
            if options["to_time"] is None or options["to_offset"] is not None:
                raise CommandError("--from-time needs --to-time (and no --to-offset): the window is [from, to).")
            data.update(range_mode="time", time_from=options["from_time"], time_to=options["to_time"])
        else:
            if options["to_time"] is not None:
                raise CommandError("--to-time goes with --from-time.")
            if options["from_offset"] is not None:
                if options["to_offset"] is None:
                    raise CommandError("--from-offset needs --to-offset: the range is [from, to).")
                offsets = f"{options['from_offset']}-{options['to_offset']}"
            elif options["to_offset"] is not None:
                raise CommandError("--to-offset goes with --from-offset.")
            else:
                offsets = options["offsets"]
            data.update(range_mode="offsets", offsets=offsets)
        if options["key_equals"] is not None:
            data.update(key_filter="equals", key=options["key_equals"])
        elif options["key_regex"] is not None:
            data.update(key_filter="regex", key=options["key_regex"])
        if options["header_present"] is not None:
            data.update(header_filter="present", header_name=options["header_present"])
        elif options["header_equals"] is not None:
            name, value = parse_header_equals(options["header_equals"])
            data.update(header_filter="equals", header_name=name, header_value=value)
        topic = options["topic"]
        # The target is checked by the preview, which names what is wrong with it.
        form = ReplayForm(
            data,
            topic=topic,
            topics=[options["target"]],
            partition_count=lambda: client.topic_partition_counts([topic]).get(topic),
        )
        if not form.is_valid():
            raise CommandError(error_text(form))
        return form.cleaned_data["request"], form.cleaned_data["zone_assumed"]

    def _show_preview(self, preview: ReplayPreview, wanted: ReplayRequest, zone_assumed: bool, output: str) -> None:
        warnings = list(preview.warnings)
        if zone_assumed:
            warnings.insert(0, "A date and time had no zone, so it was read as UTC.")
        if output == "json":
            self.stdout.write(
                json.dumps(
                    {
                        "request": wanted.to_json(),
                        "ranges": preview.ranges,
                        "total": preview.total,
                        "target": preview.target,
                        "sample": preview.sample,
                        "warnings": warnings,
                    },
                    indent=2,
                )
            )
            # Machine-readable output stays parseable: what a person should notice goes to stderr.
            for warning in warnings:
                self.stderr.write(f"Warning: {warning}")
            return
        for warning in warnings:
            self.stdout.write(f"Warning: {warning}")
        self.stdout.write(
            f"Replay from '{wanted.topic}' to '{wanted.target_topic}' "
            f"(partition mapping: {wanted.partitioning}; "
            f"{'original timestamps' if wanted.keep_timestamps else 'stamped now'}; "
            f"throttle: {wanted.throttle_rps or 'none'}; "
            f"{'exactly once' if wanted.exactly_once else 'at least once'})."
        )
        target = preview.target
        self.stdout.write(
            f"Target: {target.get('partitions')} partitions, {target.get('timestamp_type')}, "
            f"retention.ms {target.get('retention_ms')}."
        )
        self.stdout.write(
            aligned(
                [("PARTITION", "FROM", "TO", "RECORDS")]
                + [(r["partition"], r["start"], r["end"], r["count"]) for r in preview.ranges]
            )
        )
        self.stdout.write(f"Total: {preview.total} records in range.")
        if preview.sample:
            self.stdout.write("Sample:")
            self.stdout.write(
                aligned(
                    [("PARTITION", "OFFSET", "TIMESTAMP", "KEY", "VALUE")]
                    + [
                        (
                            s["partition"],
                            s["offset"],
                            format_time_ms(s.get("timestamp_ms")),
                            _one_line(s.get("key"), 30),
                            _value_text(s),
                        )
                        for s in preview.sample
                    ]
                )
            )
