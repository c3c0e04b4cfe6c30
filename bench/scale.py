"""The observatory at scale: tier S (1,000 groups x 20 partitions) or M (10,000 groups, ~115,000 rows).

Seeds a local broker with the tier (bench/seed_scale.py) or reuses one seeded before, then times,
on that broker and in the same run:
  - references: `kafka-consumer-groups --describe --all-groups` (Kafka's own tool, JVM start
    included), a naive loop reading one group at a time through the console's `groups.kafka`
    client, and the console's current batched read (`reading.cluster_groups`, what each list
    request does today);
  - the collector: `collect_lag` rounds in a fresh process, their duration (median, p95) and CPU
    time, each step's share (judged on the rounds after the status window filled, as a running
    collector makes them, when --collector-rounds gives any; the warm-up rounds are printed
    too), peak RSS, and the ratio against the tool, each against its target
    (>= 30x faster at tier M, RSS < 300 MB) with MET or NOT MET, and the ratio the Kafka reads
    alone allow (no round is faster than its reads);
  - the group list page and API (50 rows sorted by lag) served by gunicorn, with concurrent
    clients (target: p95 < 150 ms at M, flat from S to M).
Every figure is printed with its unit and written to bench/results/scale-<tier>-<time>.json.

Usage: python bench/scale.py [--tier S|M] [--rounds 3] [--collector-rounds N] [--reuse DIR] [--keep]
                             [--skip tool|naive|batched|collector|pages ...] [--clients 20] ...
Seeding goes into DIR (default bench/results/state-<tier>), wiped first; the broker's data stays
there when it stops, so a later `--reuse DIR` restarts it with the tier in place. --keep leaves
the broker running, which saves that restart.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from console_env import ROOT, console_on_local_kafka  # also puts the repository on sys.path
from measure import run_measured
from seed_scale import TIERS, Tier, check, seed
from web_load import LoadResult, WrkResult, default_workers, drive, drive_wrk, served_console

from localkafka import LocalKafkaError
from localkafka.broker import LocalKafka, tool_command

RESULTS = ROOT / "bench" / "results"
PARTS = ("tool", "naive", "batched", "collector", "pages")
CLUSTER = "bench"
HTML_PATH = f"/clusters/{CLUSTER}/groups/?sort=-lag&per_page=50"
API_PATH = f"/api/clusters/{CLUSTER}/groups/?sort=-lag&per_page=50"
COLLECTOR_SPEEDUP_TARGET = 30
COLLECTOR_RSS_TARGET = 300 * 2**20
PAGE_P95_TARGET_S = 0.150
BEHIND_TLS_PROXY = {"X-Forwarded-Proto": "https"}
MB = 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tier", choices=sorted(TIERS), default="S")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each timed part (medians are reported)")
    parser.add_argument(
        "--collector-rounds",
        type=int,
        help="collection rounds in one process (default: --rounds); more than COLLECT_WINDOW_ROUNDS (10) "
        "to time rounds with a full status window",
    )
    parser.add_argument("--reuse", metavar="DIR", help="a state dir seeded by an earlier run")
    parser.add_argument("--keep", action="store_true", help="leave the broker running afterwards")
    parser.add_argument("--skip", action="append", choices=PARTS, default=[], help="leave a part out (repeatable)")
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients on the pages")
    parser.add_argument(
        "--driver",
        choices=("wrk", "python"),
        default="wrk",
        help="the pages' load generator: wrk (compiled, default) or Python threads (checks every body)",
    )
    parser.add_argument("--seconds", type=float, default=20, help="how long wrk loads each page")
    parser.add_argument("--requests", type=int, default=25, help="requests per client and page, at most")
    parser.add_argument("--budget", type=float, default=60, help="seconds a page's load may start requests")
    parser.add_argument("--workers", type=int, default=default_workers(), help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=1, help="gunicorn threads per worker")
    args = parser.parse_args()
    if args.rounds < 1 or (args.collector_rounds is not None and args.collector_rounds < 1):
        parser.error("--rounds and --collector-rounds must be at least 1")
    tier = TIERS[args.tier]
    state = Path(args.reuse or RESULTS / f"state-{tier.name}").resolve()
    results: dict = {
        "tier": tier.name,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "commit": _commit(),
        "rounds": args.rounds,
        "cpus": os.cpu_count(),
        "loadavg_start": os.getloadavg(),
    }

    RESULTS.mkdir(exist_ok=True)
    broker = LocalKafka(state / "kafka")
    try:
        _run(args, parser, tier, state, broker, results)
    except LocalKafkaError as error:
        sys.exit(f"scale.py: {error}")


def _run(args, parser: argparse.ArgumentParser, tier: Tier, state: Path, broker: LocalKafka, results: dict) -> None:
    manifest = _seeded_manifest(parser, state, tier) if args.reuse else None
    with contextlib.ExitStack() as cleanup:
        if not args.keep:
            cleanup.callback(broker.stop)
        if manifest:
            bootstrap = _reuse(parser, broker, state, tier, manifest)
        else:
            broker.stop()
            shutil.rmtree(state, ignore_errors=True)
            state.mkdir(parents=True)
            bootstrap = broker.start()
            manifest = _seed(bootstrap, tier, state)
        results["seeded"] = manifest
        print(
            f"tier {tier.name}: {manifest['groups']:,} groups, {manifest['topics']} topics, "
            f"{manifest['topic_partitions']:,} topic-partitions, {manifest['rows']:,} group-partition rows, "
            f"{manifest['records']:,} records; groups by situation: "
            + ", ".join(f"{k} {v:,}" for k, v in sorted(manifest["situations"].items()))
        )
        t0 = time.perf_counter()
        cleanup.enter_context(_live_members(bootstrap, state / "manifest.json"))
        results["live_members_ready_s"] = time.perf_counter() - t0
        print(
            f"live members of {len(manifest['live_groups'])} groups hold their partitions after "
            f"{results['live_members_ready_s']:.1f} s"
        )

        # Served as in production (DEBUG off, so real keys), behind a TLS-terminating proxy: the load
        # sends X-Forwarded-Proto as the proxy would, else every request is redirected to https. The
        # bench creates the session that gunicorn checks, so both share the secret key.
        os.environ.update(
            {
                "KAFKA_BOOTSTRAP": bootstrap,
                "DEBUG": "0",
                "SECURE_PROXY_SSL_HEADER_NAME": "HTTP_X_FORWARDED_PROTO",
                # The content-hashed copies whitenoise serves with DEBUG off; gathered before serving.
                "STATIC_ROOT": str(RESULTS / "static"),
                "SECRET_KEY": secrets.token_urlsafe(40),
                "AUDIT_HMAC_KEY": f"bench:{secrets.token_urlsafe(40)}",
                "ALLOWED_HOSTS": "127.0.0.1",
            }
        )
        with console_on_local_kafka("bench-scale-", redis=True):
            _bench(args, bootstrap, manifest, results)

        results["loadavg_end"] = os.getloadavg()
        print(
            f"\nmachine load (1/5/15 min) at start {_loads(results['loadavg_start'])}, at end "
            f"{_loads(results['loadavg_end'])}, on {os.cpu_count()} cores shared with other work"
        )
        path = RESULTS / f"scale-{tier.name}-{time.strftime('%Y%m%d-%H%M%S')}.json"
        path.write_text(json.dumps(results, indent=2, default=str))
        print(f"\nresults: {path.relative_to(ROOT)}")
        print(
            f"reuse this tier with --reuse {state}"
            + (
                f"; its broker keeps running: stop it with python -m localkafka stop --dir {state / 'kafka'}"
                if args.keep
                else ""
            )
        )


def _seeded_manifest(parser: argparse.ArgumentParser, state: Path, tier: Tier) -> dict:
    manifest_path = state / "manifest.json"
    if not manifest_path.exists():
        parser.error(f"{state} holds no seeded tier (no manifest.json): run without --reuse to seed one")
    manifest = json.loads(manifest_path.read_text())
    if manifest["tier"] != tier.name:
        parser.error(f"{state} holds tier {manifest['tier']}, not {tier.name}: pass --tier {manifest['tier']}")
    return manifest


def _reuse(parser: argparse.ArgumentParser, broker: LocalKafka, state: Path, tier: Tier, manifest: dict) -> str:
    bootstrap = broker.start()
    why = check(bootstrap, tier)
    if why:
        broker.stop()  # even with --keep: it holds nothing worth keeping
        parser.error(f"the seeded state in {state} is gone or incomplete ({why}): run without --reuse to seed again")
    print(
        f"reusing tier {tier.name} seeded {(time.time() * 1000 - manifest['seeded_at_ms']) / 60_000:.0f} min ago "
        f"in {state}"
    )
    return bootstrap


def _seed(bootstrap: str, tier: Tier, state: Path) -> dict:
    t0 = time.perf_counter()
    manifest = seed(bootstrap, tier)
    manifest["seconds"]["total_s"] = time.perf_counter() - t0
    (state / "manifest.json").write_text(json.dumps(manifest, indent=1))
    s = manifest["seconds"]
    print(
        f"seeded tier {tier.name} in {s['total_s']:.1f} s: topics {s['topics_s']:.1f} s, "
        f"{manifest['records']:,} records {s['records_s']:.1f} s, offsets of {manifest['groups']:,} groups "
        f"{s['commits_s']:.1f} s ({s['commits_s'] / manifest['groups'] * 1000:.2f} ms per group)"
    )
    return manifest


@contextlib.contextmanager
def _live_members(bootstrap: str, manifest_path: Path):
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "seed_scale.py"), "members", bootstrap, str(manifest_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdin is not None  # both are pipes
    try:
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError("the live members' process ended before its members held their partitions")
        yield
    finally:
        proc.stdin.close()  # members leave their groups and the process ends
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _bench(args, bootstrap: str, manifest: dict, results: dict) -> None:
    from groups.models import Cluster

    cluster = Cluster.objects.create(name=CLUSTER, bootstrap_servers=bootstrap)
    rows = manifest["rows"]
    measure = {
        name: fn for name, fn in (("tool", _tool), ("naive", _naive), ("batched", _batched)) if name not in args.skip
    }
    times: dict[str, list[dict]] = {name: [] for name in measure}
    names = list(measure)
    for round_ in range(args.rounds if names else 0):
        order = names[round_ % len(names) :] + names[: round_ % len(names)]
        for name in order:
            times[name].append(measure[name](bootstrap, cluster))
        print(
            f"round {round_ + 1} ({' -> '.join(order)}): "
            + ", ".join(f"{name} {times[name][-1]['seconds']:.2f} s" for name in names)
        )
    reference = {name: _median_of(runs) for name, runs in times.items()}
    results["reference"] = {"rounds": times, "median": reference}
    tool_s = reference.get("tool", {}).get("seconds")

    if reference:
        print(
            f"\nreferences, {rows:,} group-partition rows seeded (median of {args.rounds} round"
            f"{'s' if args.rounds > 1 else ''}):"
        )
    if "tool" in reference:
        r = reference["tool"]
        print(
            f"  kafka-consumer-groups --describe --all-groups (JVM start included): {r['seconds']:8.2f} s   "
            f"rows {r['rows']:,}, JVM peak RSS {r['peak_rss_bytes'] / MB:,.0f} MB (sampled VmHWM)"
        )
    for name, label in (
        ("naive", "naive loop, one group at a time (groups.kafka client)"),
        ("batched", "console's current batched read (reading.cluster_groups)"),
    ):
        if name in reference:
            r = reference[name]
            vs = f", tool / this = {tool_s / r['seconds']:.1f}x" if tool_s else ""
            print(f"  {label + ':':<70}{r['seconds']:8.2f} s   rows {r['rows']:,}{vs}")

    if "collector" not in args.skip:
        results["collector"] = _collector(args.collector_rounds or args.rounds, tool_s)
    if "pages" not in args.skip:
        results["pages"] = _pages(args, cluster, manifest["tier"])


def _median_of(runs: list[dict]) -> dict:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def _tool(bootstrap: str, cluster) -> dict:
    run = run_measured(tool_command("consumer-groups", ["--describe", "--all-groups", "--timeout", "60000"], bootstrap))
    if run.returncode != 0:
        raise RuntimeError(f"kafka-consumer-groups failed ({run.returncode}): {run.stderr[-1000:]}")
    # Data lines start with the group id; headers, blank lines and "has no active members" notes do not.
    rows = sum(1 for line in run.stdout.splitlines() if line.startswith("scale-"))
    return {"seconds": run.seconds, "rows": rows, "peak_rss_bytes": run.peak_rss_bytes}


def _naive(bootstrap: str, cluster) -> dict:
    from groups import lag
    from groups.kafka import client_for

    client = client_for(cluster)
    t0 = time.perf_counter()
    rows = 0
    for listing in client.list_groups():
        group_id = listing.group_id
        description = client.describe_groups([group_id])[group_id]
        committed = client.committed_offsets([group_id])[group_id]
        partitions = set(committed) | {tp for m in description.members for tp in m.assignment}
        rows += len(lag.partition_rows(description, committed, client.log_offsets(partitions)))
    return {"seconds": time.perf_counter() - t0, "rows": rows}


def _batched(bootstrap: str, cluster) -> dict:
    from groups import reading
    from groups.kafka import client_for

    t0 = time.perf_counter()
    groups = reading.cluster_groups(client_for(cluster), visible=lambda ids: ids)
    return {"seconds": time.perf_counter() - t0, "rows": sum(g.partitions for g in groups)}


def _collector(rounds: int, tool_s: float | None) -> dict:
    from django.conf import settings
    from django.core.management import get_commands

    if "collect_lag" not in get_commands():
        print("\ncollector: not merged yet (no collect_lag command): skipped")
        return {"skipped": "no collect_lag command"}
    run = run_measured(
        [sys.executable, str(ROOT / "bench" / "collect_rounds.py"), CLUSTER, str(rounds)],
        env=dict(os.environ),
        cwd=ROOT,
    )
    if run.returncode != 0:
        raise RuntimeError(f"collect_lag failed ({run.returncode}): {run.stderr[-2000:]}")
    report = json.loads(run.stdout.strip().splitlines()[-1])
    # A running collector's rounds are those after its status window filled: the first
    # COLLECT_WINDOW_ROUNDS rounds of a fresh one build their windows (no partition is steady yet).
    # Those are judged when the run has any; the warm-up rounds are printed beside them.
    warm_up = min(settings.COLLECT_WINDOW_ROUNDS, len(report["rounds_s"]))
    judged = slice(warm_up, None) if len(report["rounds_s"]) > warm_up else slice(None)
    judged_s = report["rounds_s"][judged]
    median_s, p95_s = statistics.median(judged_s), _p95(judged_s)
    steps = {
        name: statistics.median(s.get(name, 0.0) for s in report["steps"][judged])
        for name in ("read", "kafka.offset_fetch", "load_previous", "evaluate", "write", "history", "alerts")
    }
    out = {
        **report,
        "judged_rounds": "window full" if judged.start else "all (none with a full window)",
        "warm_up_median_s": statistics.median(report["rounds_s"][:warm_up]),
        "median_s": median_s,
        "p95_s": p95_s,
        "median_cpu_s": statistics.median(report["rounds_cpu_s"][judged]),
        "median_steps_s": steps,
        "process_s": run.seconds,
        "peak_tree_rss_bytes": run.peak_tree_rss_bytes,
    }
    print(
        f"\ncollector, {rounds} round{'s' if rounds > 1 else ''} of collect_lag in one fresh process; "
        "the last round in its own words:"
    )
    print("\n".join(f"    {line}" for line in report["said"][-1].splitlines()))
    print(f"  rounds: {', '.join(f'{s:.2f} s' for s in report['rounds_s'])}")
    print(
        f"  the first {warm_up} (status window of {settings.COLLECT_WINDOW_ROUNDS} rounds filling): median "
        f"{out['warm_up_median_s']:.2f} s"
        + (f", tool / that = {tool_s / out['warm_up_median_s']:.1f}x" if tool_s else "")
    )
    print(
        f"  judged ({out['judged_rounds']}): median {median_s:.2f} s, p95 {p95_s:.2f} s; "
        f"the process's CPU time per round: median {out['median_cpu_s']:.2f} s"
    )
    print(
        f"  steps (median of the rounds): Kafka reads {steps['read']:.2f} s "
        f"(OffsetFetch {steps['kafka.offset_fetch']:.2f} s of it), previous snapshot {steps['load_previous']:.2f} s, "
        f"evaluation {steps['evaluate']:.2f} s, snapshot write {steps['write']:.2f} s, "
        f"history {steps['history']:.2f} s, alerts {steps['alerts']:.2f} s"
    )
    if tool_s:
        out["speedup_vs_tool"] = tool_s / median_s
        out["speedup_target_met"] = out["speedup_vs_tool"] >= COLLECTOR_SPEEDUP_TARGET
        print(
            f"  tool / collector round (medians): {out['speedup_vs_tool']:.1f}x, p95 round {tool_s / p95_s:.1f}x; "
            f"target >= {COLLECTOR_SPEEDUP_TARGET}x at tier M, a round of at most "
            f"{tool_s / COLLECTOR_SPEEDUP_TARGET:.2f} s in this run: "
            f"{'MET' if out['speedup_target_met'] else 'NOT MET'}"
        )
        if steps["read"] > 0:
            # No round is faster than its Kafka reads, whatever the evaluation costs.
            out["speedup_bound_by_reads"] = tool_s / steps["read"]
            print(
                f"  bound: the Kafka reads alone take {steps['read']:.2f} s, so no round can beat "
                f"{out['speedup_bound_by_reads']:.1f}x the tool in this run"
            )
    out["rss_target_met"] = max(report["peak_rss_bytes"], run.peak_tree_rss_bytes) < COLLECTOR_RSS_TARGET
    print(
        f"  peak RSS: {report['peak_rss_bytes'] / MB:,.0f} MB (the process, its VmHWM; "
        f"{report['baseline_rss_bytes'] / MB:,.0f} MB after Django set-up), {run.peak_tree_rss_bytes / MB:,.0f} MB "
        f"sampled with its helper processes; target < {COLLECTOR_RSS_TARGET / MB:.0f} MB: "
        f"{'MET' if out['rss_target_met'] else 'NOT MET'}"
    )
    return out


def _p95(values: list[float]) -> float:
    """The 95th percentile by nearest rank: with fewer than 20 rounds, the slowest."""
    ordered = sorted(values)
    return ordered[max(0, -(-95 * len(ordered) // 100) - 1)]


def _pages(args, cluster, tier: str) -> dict:
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import User
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command

    from groups.models import ApiToken, Grant, Snapshot
    from groups.snapshot.collector import collect

    # A viewer with a grant, not a superuser: the list then goes through the grant filter as most users' does.
    user = User.objects.create_user("bench-viewer")
    Grant.objects.create(user=user, role="Viewer", cluster=cluster, group_pattern="*")
    session = SessionStore()
    session.update(
        {
            SESSION_KEY: str(user.pk),
            BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
            HASH_SESSION_KEY: user.get_session_auth_hash(),
        }
    )
    session.create()
    marker = f"scale-{tier}-".encode()
    pages = {
        "html": (
            HTML_PATH,
            {"Cookie": f"{settings.SESSION_COOKIE_NAME}={session.session_key}", **BEHIND_TLS_PROXY},
            lambda body: marker in body,
        ),
        "api": (
            API_PATH,
            {"Authorization": f"Token {ApiToken.issue(user)}", **BEHIND_TLS_PROXY},
            lambda body: bool(json.loads(body).get("groups")),
        ),
    }
    call_command("collectstatic", interactive=False, verbosity=0)
    if not Snapshot.objects.filter(cluster=cluster).exists():  # the collector part was skipped
        print(f"\npages: {collect(cluster).describe()}")
    # Kept after the run (the database is not): a page that fails says why in it.
    log = RESULTS / f"gunicorn-{tier}.log"
    log.unlink(missing_ok=True)
    out: dict = {"workers": args.workers, "threads": args.threads, "clients": args.clients, "driver": args.driver}
    print(
        f"\npages: gunicorn {args.workers} workers x {args.threads} thread{'s' if args.threads > 1 else ''}, "
        + (
            f"{args.clients} concurrent wrk connections for {args.seconds:g} s each page "
            if args.driver == "wrk"
            else f"{args.clients} concurrent Python clients, up to {args.requests} requests each, new requests for "
            f"{args.budget:.0f} s "
        )
        + f"(target p95 < {PAGE_P95_TARGET_S * 1000:.0f} ms, flat from S to M); "
        f"server log: {log.relative_to(ROOT)}"
    )
    with served_console(dict(os.environ), workers=args.workers, threads=args.threads, log_path=log) as served:
        port = served.port
        for name, (path, headers, body_ok) in pages.items():
            # One request per worker first, so start-up (imports, Kafka clients) is not in the figures.
            drive(port, path, headers, check=body_ok, clients=args.workers, requests_per_client=1, budget_s=1)
            alone = drive(port, path, headers, check=body_ok, clients=1, requests_per_client=3, budget_s=args.budget)
            cpu_before = served.cpu_seconds()
            load: LoadResult | WrkResult
            if args.driver == "wrk":
                load = drive_wrk(port, path, headers, clients=args.clients, seconds=args.seconds)
            else:
                load = drive(
                    port,
                    path,
                    headers,
                    check=body_ok,
                    clients=args.clients,
                    requests_per_client=args.requests,
                    budget_s=args.budget,
                )
            summary = load.summary()
            answered = summary["requests_ok"] + sum(summary["errors"].values())
            cpu_ms = (served.cpu_seconds() - cpu_before) * 1000 / answered if answered else None
            # wrk checks statuses only: the body must still be the page after the load.
            after = drive(port, path, headers, check=body_ok, clients=1, requests_per_client=1, budget_s=args.budget)
            if after.errors:
                late = {f"after the load: {kind}": n for kind, n in after.errors.items()}
                summary["errors"] = {**summary["errors"], **late}
            out[name] = {**summary, "alone_p50_s": alone.percentile(50), "server_cpu_ms_per_request": cpu_ms}
            _print_load(name, summary, alone, cpu_ms)
    _compare_tiers(tier, out)
    return out


def _print_load(name: str, s: dict, alone: LoadResult, cpu_ms: float | None) -> None:
    if not s["requests_ok"]:
        print(f"  {name.upper():<4} {s['path']}: no good answer; errors {s['errors']}")
        return
    alone_p50 = alone.percentile(50)
    if alone_p50 is not None:
        print(
            f"  {name.upper():<4} one client alone: p50 {alone_p50 * 1000:,.0f} ms "
            f"over {len(alone.latencies_s)} requests"
        )
    if alone.errors:  # a redirect or a 500 here once went unsaid while the load measured it
        print(f"  {name.upper():<4} one client alone: errors {dict(alone.errors)}")
    verdict = "meets" if s["p95_s"] < PAGE_P95_TARGET_S else "misses"
    errors = f", errors {s['errors']}" if s["errors"] else ""
    print(
        f"  {name.upper():<4} {s['path']}: p50 {s['p50_s'] * 1000:,.0f} ms, p95 {s['p95_s'] * 1000:,.0f} ms, "
        f"max {s['max_s'] * 1000:,.0f} ms over {s['requests_ok']} requests in {s['wall_s']:.1f} s "
        f"({s['requests_per_s']:.1f} req/s){errors}; p95 {verdict} the target "
        f"({s['p95_s'] / PAGE_P95_TARGET_S:.1f}x of it)"
    )
    if cpu_ms is not None:
        print(f"  {name.upper():<4} server CPU per request under load: {cpu_ms:.1f} ms (gunicorn's master and workers)")


def _compare_tiers(tier: str, pages: dict) -> None:
    """p95 at M over p95 at S, against the other tier's latest result file (flat means about 1)."""
    other = "M" if tier == "S" else "S"
    runs = [json.loads(p.read_text()) for p in sorted(RESULTS.glob(f"scale-{other}-*.json"))]
    earlier = next((run for run in reversed(runs) if run.get("pages", {}).get("api")), None)
    if earlier is None:
        return
    print(f"  against tier {other} of {earlier['started']} (commit {earlier['commit'][:10]}):")
    for name in ("html", "api"):
        mine, theirs = pages[name]["p95_s"], earlier["pages"][name]["p95_s"]
        if mine and theirs:
            m_over_s = mine / theirs if tier == "M" else theirs / mine
            print(f"    {name.upper()} p95 at M / p95 at S: {m_over_s:.2f}")


def _loads(loadavg: tuple[float, float, float]) -> str:
    return "/".join(f"{x:.1f}" for x in loadavg)


def _commit() -> str:
    return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()


if __name__ == "__main__":
    main()
