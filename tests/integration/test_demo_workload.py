"""The demo workload leaves every consumer group in the situation its name promises, and `make demo`
stops everything it started."""

import os
import pathlib
import re
import signal
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from typing import TypeVar

import pytest
from confluent_kafka import ConsumerGroupState, ConsumerGroupTopicPartitions, ConsumerGroupType, TopicPartition
from confluent_kafka.admin import AdminClient, ConsumerGroupDescription, OffsetSpec

from localkafka import demo, free_ports, port_answers, read_pid
from localkafka.broker import LocalKafka
from localkafka.demo_stack import demo_password
from localkafka.redis_server import stop_redis
from tests.kafkatools import wait_for
from tests.web_server import HttpSession

pytestmark = [
    pytest.mark.integration,
    pytest.mark.engine_neutral("the demo's tooling and workload; the console it starts keeps its own database"),
]

T = TypeVar("T")


@pytest.fixture(scope="module")
def workload(kafka_bootstrap):
    running = demo.DemoWorkload(kafka_bootstrap, prefix=f"demo-{uuid.uuid4().hex[:8]}-")
    running.seed()
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def admin(kafka_bootstrap):
    return AdminClient({"bootstrap.servers": kafka_bootstrap})


def eventually(observe: Callable[[], T], accept: Callable[[T], bool], timeout: float = 90.0) -> T:
    """The first observation accept() likes, or the last one when time runs out (for the assert to show)."""
    deadline = time.monotonic() + timeout
    while True:
        value = observe()
        if accept(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.5)


def describe(admin: AdminClient, group: str) -> ConsumerGroupDescription:
    return admin.describe_consumer_groups([group], request_timeout=10)[group].result()


def committed(admin: AdminClient, group: str) -> dict[int, int]:
    request = [ConsumerGroupTopicPartitions(group)]
    result = admin.list_consumer_group_offsets(request, request_timeout=10)[group].result()
    return {tp.partition: tp.offset for tp in result.topic_partitions if tp.offset >= 0}


def log_offsets(admin: AdminClient, workload: demo.DemoWorkload, topic: str, spec: OffsetSpec) -> dict[int, int]:
    partitions = [TopicPartition(workload.name(topic), p) for p in range(demo.TOPICS_BY_NAME[topic].partitions)]
    futures = admin.list_offsets({tp: spec for tp in partitions}, request_timeout=10)
    return {tp.partition: future.result().offset for tp, future in futures.items()}


def assigned_counts(description: ConsumerGroupDescription) -> list[int]:
    return sorted(len(member.assignment.topic_partitions) for member in description.members)


def test_the_classic_group_is_stable_with_two_members_sharing_the_partitions(workload, admin):
    group = workload.name(demo.STABLE_CLASSIC)

    found = eventually(
        lambda: describe(admin, group),
        lambda d: d.state == ConsumerGroupState.STABLE and sum(assigned_counts(d)) == 6 and len(d.members) == 2,
    )

    assert found.state == ConsumerGroupState.STABLE
    assert found.type == ConsumerGroupType.CLASSIC
    assert assigned_counts(found) == [3, 3]


def test_the_kip848_group_is_stable_on_the_consumer_protocol(workload, admin):
    group = workload.name(demo.STABLE_KIP848)

    found = eventually(
        lambda: describe(admin, group),
        lambda d: d.state == ConsumerGroupState.STABLE and sum(assigned_counts(d)) == 3 and len(d.members) == 2,
    )

    assert found.state == ConsumerGroupState.STABLE
    assert found.type == ConsumerGroupType.CONSUMER
    assert assigned_counts(found) == [1, 2]


def test_the_idle_member_group_is_stable_with_one_member_left_without_partitions(workload, admin):
    group = workload.name(demo.STABLE_IDLE_MEMBER)

    found = eventually(
        lambda: describe(admin, group),
        lambda d: d.state == ConsumerGroupState.STABLE and assigned_counts(d) == [0, 1, 1],
    )

    assert found.state == ConsumerGroupState.STABLE
    assert assigned_counts(found) == [0, 1, 1]


def test_the_abandoned_group_is_empty_and_lags_on_every_partition(workload, admin):
    group = workload.name(demo.EMPTY_WITH_LAG)

    found = describe(admin, group)
    offsets = committed(admin, group)
    end = log_offsets(admin, workload, "clicks", OffsetSpec.latest())

    assert found.state == ConsumerGroupState.EMPTY
    assert sorted(offsets) == list(range(12))
    assert all(end[p] > offsets[p] > 0 for p in offsets), (offsets, end)


def test_the_partial_group_has_offsets_on_partitions_0_and_1_only(workload, admin):
    group = workload.name(demo.PARTIAL_OFFSETS)

    found = describe(admin, group)
    offsets = committed(admin, group)

    assert found.state == ConsumerGroupState.EMPTY
    assert sorted(offsets) == [0, 1]


def test_the_expired_group_committed_below_the_log_start(workload, admin):
    group = workload.name(demo.BELOW_LOG_START)

    found = describe(admin, group)
    offsets = committed(admin, group)
    log_start = log_offsets(admin, workload, "audit-trail", OffsetSpec.earliest())

    assert found.state == ConsumerGroupState.EMPTY
    assert 0 in offsets, offsets
    assert offsets[0] < log_start[0]


def test_the_share_group_is_stable_with_two_share_consumers_reading_the_inventory(workload, kafka_bootstrap):
    from groups.kafka import ShareClient, ShareGroupNotFound

    share = ShareClient({"bootstrap.servers": kafka_bootstrap}, 10)
    group = workload.name(demo.SHARE_WORKERS)

    def observe():
        try:
            return share.read(group)
        except ShareGroupNotFound:
            return None

    found = eventually(
        observe,
        lambda s: (
            s is not None
            and s.description.state == "Stable"
            and len(s.description.members) == 2
            and any(o.start_offset is not None for o in s.offsets)
        ),
    )
    assert found is not None and found.description.state == "Stable"
    members = found.description.members
    assert sorted(m.client_id for m in members) == ["inventory-worker-0", "inventory-worker-1"]
    assert {tp.topic for m in members for tp in m.assignment} == {workload.name("inventory")}
    assert any(o.start_offset is not None for o in found.offsets)


def test_seeding_again_changes_no_committed_offset(workload, admin):
    seeded = [workload.name(g) for g in (demo.EMPTY_WITH_LAG, demo.PARTIAL_OFFSETS, demo.BELOW_LOG_START)]
    before = {group: committed(admin, group) for group in seeded}
    log_start_before = log_offsets(admin, workload, "audit-trail", OffsetSpec.earliest())

    workload.seed()

    assert {group: committed(admin, group) for group in seeded} == before
    assert log_offsets(admin, workload, "audit-trail", OffsetSpec.earliest()) == log_start_before


REPO = pathlib.Path(__file__).resolve().parents[2]


def _running_in_groups(groups: set[int]) -> list[int]:
    """The live processes (zombies waiting for their parent count as exited) in these process groups."""
    found = []
    for stat_file in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            state, _, group = stat_file.read_text().rsplit(")", 1)[1].split()[:3]
        except OSError:
            continue
        if int(group) in groups and state != "Z":
            found.append(int(stat_file.parent.name))
    return found


def _as_in_a_terminal() -> None:
    """A foreground pipeline's Ctrl-C disposition. A test run started in the background by a
    non-interactive shell (`make test &`, some CI runners) ignores SIGINT, and its children would inherit
    that: tee would then outlive the Ctrl-C it is meant to receive."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_stops_everything_the_demo_started_though_its_output_pipe_closed(tmp_path, monkeypatch):
    """`make demo 2>&1 | tee demo.log`, then Ctrl-C: the terminal signals the demo and tee alike, so
    the demo reports its stop into a pipe nobody reads any more."""
    state, output = tmp_path / "state", tmp_path / "demo.log"
    (port,) = free_ports(1)
    output.touch()  # tee creates it only once it runs
    for name in ("REDIS_URL", "DEMO_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}"}
    demo_run = subprocess.Popen(
        [sys.executable, "-m", "localkafka.demo", "run", "--port", str(port), "--dir", str(state)],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        process_group=0,
        preexec_fn=_as_in_a_terminal,
    )
    # One process group, as a shell puts a pipeline in: a terminal's Ctrl-C reaches both.
    tee = subprocess.Popen(
        ["tee", str(output)],
        stdin=demo_run.stdout,
        stdout=subprocess.DEVNULL,
        process_group=demo_run.pid,
        preexec_fn=_as_in_a_terminal,
    )
    demo_run.stdout.close()
    try:
        wait_for(
            lambda: "(ready in" in output.read_text() or demo_run.poll() is not None,
            timeout=240,
            what="the demo to get ready",
        )
        assert demo_run.poll() is None, output.read_text()
        broker, redis_server = read_pid(state / "broker.pid"), read_pid(state / "redis.pid")
        children = [
            int(pid) for pid in pathlib.Path(f"/proc/{demo_run.pid}/task/{demo_run.pid}/children").read_text().split()
        ]
        assert broker in children and redis_server in children and len(children) == 5, children
        assert all(os.getpgid(pid) == pid for pid in children)
        password = re.search(r"Log in +admin / (\S+)", output.read_text())[1]
        # What production shows: gunicorn with DEBUG off, the console's own 404 page, static files by whitenoise.
        assert f"Open      http://127.0.0.1:{port}/" in output.read_text()
        web = HttpSession()
        status, headers, page = web.get(f"http://127.0.0.1:{port}/no/such/page/")
        assert status == 404 and "<h1>Not found</h1>" in page and "URLconf" not in page
        assert headers["Server"].startswith("gunicorn")
        stylesheet = re.search(r'href="(/static/groups/console\.[0-9a-f]{12}\.css)"', page)[1]
        assert web.get(f"http://127.0.0.1:{port}{stylesheet}")[0] == 200
        web.sign_in(f"http://127.0.0.1:{port}", "viewer", password)

        os.killpg(demo_run.pid, signal.SIGINT)

        assert demo_run.wait(timeout=120) == 0
        assert tee.wait(timeout=10) == -signal.SIGINT
        # Each child leads a process group of its own; the worker's pool and beat processes are in its group.
        assert _running_in_groups(set(children)) == []
        assert not port_answers(port)
        # The printed password is the one kept for the next run, and every demo user signs in with it.
        kept = state / "demo-password"
        assert kept.read_text().strip() == password
        assert stat.S_IMODE(kept.stat().st_mode) == 0o600
        users = ("viewer", "operator", "approver", "admin")
        check = (
            "import sys; from django.contrib.auth import authenticate; "
            f"sys.exit(not all(authenticate(username=u, password={password!r}) for u in {users!r}))"
        )
        signs_in = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", check],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert signs_in.returncode == 0, signs_in.stdout + signs_in.stderr
    finally:
        # A demo that never got ready is asked to stop its children before it is killed.
        if demo_run.poll() is None:
            demo_run.terminate()
            try:
                demo_run.wait(timeout=120)
            except subprocess.TimeoutExpired:
                demo_run.kill()
        if tee.poll() is None:
            tee.kill()
        LocalKafka(state).stop()
        stop_redis(state)


def test_the_demo_password_is_made_once_per_state_dir_and_kept_from_other_users(tmp_path, monkeypatch):
    monkeypatch.delenv("DEMO_PASSWORD", raising=False)
    kept = tmp_path / "demo-password"

    first = demo_password(tmp_path)

    assert len(first) >= 16
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert demo_password(tmp_path) == first

    # One saved before this rule, in the checkout's usual mode, is kept and tightened.
    kept.write_text("saved-in-the-browser\n")
    kept.chmod(0o644)
    assert demo_password(tmp_path) == "saved-in-the-browser"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600

    monkeypatch.setenv("DEMO_PASSWORD", "chosen-for-this-run")
    assert demo_password(tmp_path) == "chosen-for-this-run"
    assert kept.read_text() == "saved-in-the-browser\n"
