"""A single-node KRaft Apache Kafka (broker and controller in one JVM) plus Kafka's own CLI tools.

The jars come from Maven Central once (ensure_jars); after that nothing touches the network.
"""

from __future__ import annotations

import base64
import hashlib
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET

from . import (
    DEFAULT_STATE_DIR,
    LocalKafkaError,
    PortTaken,
    free_ports,
    port_answers,
    port_is_free,
    process_matches,
    read_pid,
    spawn_detached,
    state_lock,
    terminate,
)

PACKAGE_DIR = pathlib.Path(__file__).resolve().parent
POM = PACKAGE_DIR / "pom.xml"
BROKER_LOG4J = PACKAGE_DIR / "log4j2-broker.properties"
TOOLS_LOG4J = PACKAGE_DIR / "log4j2-tools.properties"


def _pom_property(name: str) -> str:
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    value = ET.parse(POM).getroot().findtext(f"m:properties/m:{name}", namespaces=ns)
    if not value:
        raise LocalKafkaError(f"{POM} has no <{name}> property")
    return value


# pom.xml stays the one place the version is set.
KAFKA_VERSION = _pom_property("kafka.version")

# Pinned because Maven 3.8 would otherwise pick maven-dependency-plugin 2.8.
_COPY_DEPENDENCIES = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies"
_COMPLETE_MARKER = ".complete"

TOOLS = {
    "consumer-groups": "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
    "topics": "org.apache.kafka.tools.TopicCommand",
    "console-producer": "org.apache.kafka.tools.ConsoleProducer",
    "console-consumer": "org.apache.kafka.tools.consumer.ConsoleConsumer",
}

# Tools are short-lived: startup time dominates, so only the C1 JIT, the serial GC, and no
# hsperfdata file.
_TOOL_JVM = [
    "-Xmx256m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-XX:-UsePerfData",
    f"-Dlog4j2.configurationFile={TOOLS_LOG4J}",
]

# kafka-server-start.sh's flags, with a smaller heap (the test config below keeps buffers small).
_BROKER_JVM = [
    "-Xms256m",
    "-Xmx768m",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:MaxInlineLevel=15",
    "-Djava.awt.headless=true",
    f"-Dlog4j2.configurationFile={BROKER_LOG4J}",
]

_STARTED_MESSAGE = "Kafka Server started"

_SERVER_PROPERTIES = """\
# Written by localkafka on every start (same ports, same data dir); edits are lost.
process.roles=broker,controller
node.id=1
# Static quorum: the format step then needs no --standalone.
controller.quorum.voters=1@127.0.0.1:{controller_port}
listeners=PLAINTEXT://127.0.0.1:{broker_port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{broker_port}
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs={data_dir}

# Internal topics default to replication factor 3, which one broker can never satisfy.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
share.coordinator.state.topic.num.partitions=1
num.partitions=1
auto.create.topics.enable=true
delete.topic.enable=true

# The default 3 s wait before the first rebalance of a classic group would slow every test.
group.initial.rebalance.delay.ms=0
# The cleaner allocates this buffer on the heap at startup; the 128 MiB default is for production.
log.cleaner.dedupe.buffer.size=2097152
num.network.threads=2
num.io.threads=2
group.coordinator.threads=1
num.recovery.threads.per.data.dir=1

# Short timeouts so tests see members join, leave and expire in seconds, not the production 45 s.
# KIP-848 ("consumer" protocol) groups: the broker, not the client, sets these.
group.consumer.min.heartbeat.interval.ms=500
group.consumer.heartbeat.interval.ms=500
group.consumer.min.session.timeout.ms=1000
group.consumer.session.timeout.ms=10000
group.consumer.assignment.interval.ms=0
# Classic groups: the client asks for session.timeout.ms; the broker rejects it below this floor.
group.min.session.timeout.ms=1000
"""


def cache_root() -> pathlib.Path:
    return pathlib.Path(os.environ.get("LOCALKAFKA_CACHE") or pathlib.Path.home() / ".cache" / "console-localkafka")


def _pom_digest() -> str:
    return hashlib.sha256(POM.read_bytes()).hexdigest()


def _jars_complete(lib: pathlib.Path, digest: str) -> bool:
    try:
        return (lib / _COMPLETE_MARKER).read_text() == digest
    except FileNotFoundError:
        return False


def ensure_jars(quiet: bool = False) -> pathlib.Path:
    """Resolve the jars once with mvn into a cache dir and return it; no network afterwards.

    The cache is $LOCALKAFKA_CACHE (default ~/.cache/console-localkafka) / KAFKA_VERSION / lib.
    The marker holds the pom's digest and is written only after a complete copy, so an
    interrupted download, or a pom edited since, is fetched again.
    """
    root = cache_root() / KAFKA_VERSION
    lib = root / "lib"
    digest = _pom_digest()
    if _jars_complete(lib, digest):
        return lib
    with state_lock(root / ".lock"):
        if _jars_complete(lib, digest):
            return lib
        mvn = shutil.which("mvn")
        if mvn is None:
            raise LocalKafkaError("mvn not found: install Maven 3.8+ (needed once, to fetch the Kafka jars)")
        if not quiet:
            print(f"localkafka: fetching Apache Kafka {KAFKA_VERSION} jars with Maven (first run only)", file=sys.stderr)
        # Under the lock, any staging dir is the leftover of a killed download.
        for stale in root.glob("lib.partial-*"):
            shutil.rmtree(stale, ignore_errors=True)
        staging = pathlib.Path(tempfile.mkdtemp(prefix="lib.partial-", dir=root))
        try:
            result = subprocess.run(
                [mvn, "-B", "-q", "-f", str(POM), _COPY_DEPENDENCIES, "-DincludeScope=runtime", f"-DoutputDirectory={staging}"],
                capture_output=True,
                text=True,
            )
            if result.returncode != 0:
                # Even in batch mode Maven starts its output with a colour reset.
                output = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)
                errors = [line.removeprefix("[ERROR]").strip() for line in output.splitlines() if line.startswith("[ERROR]")]
                reason = next((error for error in errors if error), f"mvn exited with {result.returncode}")
                raise LocalKafkaError(f"Maven could not resolve the Kafka jars (is Maven Central reachable?): {reason}")
            shutil.rmtree(lib, ignore_errors=True)
            staging.rename(lib)
            (lib / _COMPLETE_MARKER).write_text(digest)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return lib


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    java = os.path.join(java_home, "bin", "java") if java_home else shutil.which("java")
    if not java or not os.access(java, os.X_OK):
        raise LocalKafkaError("java not found: install a JDK 17 (or set JAVA_HOME)")
    return java


def _java_failure(output: str) -> str:
    """The one line of a JVM's output that explains why it failed."""
    if "UnsupportedClassVersionError" in output:
        return "Kafka 4 needs Java 17 or newer; this java is older (set JAVA_HOME to a JDK 17)"
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in reversed(lines):
        if " ERROR " in line or "Exception" in line or line.startswith("Error"):
            return line
    return lines[-1] if lines else "no output"


def tool_command(tool: str, args: list[str], bootstrap: str) -> list[str]:
    """The argv that runs a CLI tool from TOOLS against bootstrap."""
    try:
        main_class = TOOLS[tool]
    except KeyError:
        raise LocalKafkaError(f"unknown tool {tool!r}: choose one of {', '.join(TOOLS)}") from None
    classpath = f"{ensure_jars()}/*"
    return [_java(), *_TOOL_JVM, "-cp", classpath, main_class, "--bootstrap-server", bootstrap, *args]


def run_tool(
    tool: str, args: list[str], bootstrap: str, *, input: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run Apache Kafka's own CLI class for tool (a TOOLS key) with --bootstrap-server added.

    stdout is the tool's answer only; its log lines (WARN and above) go to stderr. Without input,
    stdin is empty rather than inherited, so a console producer never waits on the terminal.
    """
    stdin = {"input": input} if input is not None else {"stdin": subprocess.DEVNULL}
    return subprocess.run(
        tool_command(tool, args, bootstrap), capture_output=True, text=True, timeout=timeout, **stdin
    )


def _cluster_id() -> str:
    """A 22-character base64url UUID like Kafka's own; never starting with '-', which the
    storage tool's argument parser would read as an option."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


class LocalKafka:
    """A broker whose files (config, data, log, pid) live in one state dir."""

    def __init__(self, state_dir: pathlib.Path | str | None = None):
        self.state_dir = pathlib.Path(state_dir or DEFAULT_STATE_DIR).resolve()
        self.properties = self.state_dir / "server.properties"
        self.data_dir = self.state_dir / "data"
        self.log_file = self.state_dir / "broker.log"
        self.pid_file = self.state_dir / "broker.pid"
        self.bootstrap: str | None = None

    def _configured_ports(self) -> tuple[int, int] | None:
        """The (broker, controller) ports of the last start, which every later start reuses."""
        try:
            text = self.properties.read_text()
        except FileNotFoundError:
            return None
        match = re.search(r"^listeners=PLAINTEXT://127\.0\.0\.1:(\d+),CONTROLLER://127\.0\.0\.1:(\d+)$", text, re.M)
        return (int(match[1]), int(match[2])) if match else None

    def _formatted(self) -> bool:
        # The storage tool's meta.properties (cluster id, node id) marks a formatted data dir.
        try:
            return "cluster.id=" in (self.data_dir / "meta.properties").read_text()
        except FileNotFoundError:
            return False

    def status(self) -> str | None:
        """The bootstrap address if the broker of this state dir is running and listening, else None."""
        pid = read_pid(self.pid_file)
        ports = self._configured_ports()
        alive = pid is not None and ports is not None and process_matches(pid, str(self.properties))
        self.bootstrap = f"127.0.0.1:{ports[0]}" if alive and port_answers(ports[0]) else None
        return self.bootstrap

    def start(self, timeout: float = 90, new_ports: bool = False) -> str:
        """Reuse the running broker of this state dir, or start it detached.

        A broker started before keeps its data (no new format) and its ports, so clients that knew
        it find it again with every topic and group. new_ports moves it to free ports, data kept.
        Returns "127.0.0.1:PORT" once the broker serves requests. timeout covers format and
        startup, not the one-time jar download.
        """
        with state_lock(self.state_dir / ".lock"):
            if self.status():
                return self.bootstrap
            # Alive but not listening means hung or killed half-way through a start: replace it.
            self._stop_locked(timeout=10)
            lib = ensure_jars()
            java = _java()
            deadline = time.monotonic() + timeout
            remembered = None if new_ports else self._configured_ports()
            if remembered is None:
                try:
                    return self._launch(java, lib, free_ports(2), deadline)
                except PortTaken:
                    return self._launch(java, lib, free_ports(2), deadline)
            try:
                if all(port_is_free(port) for port in remembered):
                    return self._launch(java, lib, remembered, deadline)
            except PortTaken:
                pass  # taken between the check and the bind: the same answer
            taken = next((port for port in remembered if not port_is_free(port)), remembered[0])
            raise LocalKafkaError(
                f"port {taken}, which the broker of {self.state_dir} keeps across restarts, is in use by another "
                "process: stop that process, or run `start --new-ports` to move the broker to free ports "
                "(topics and groups are kept; clients then need the new bootstrap)"
            )

    def _launch(self, java: str, lib: pathlib.Path, ports: list[int] | tuple[int, int], deadline: float) -> str:
        broker_port, controller_port = ports
        self.properties.write_text(
            _SERVER_PROPERTIES.format(broker_port=broker_port, controller_port=controller_port, data_dir=self.data_dir)
        )
        classpath = f"{lib}/*"
        if not self._formatted():
            self._format(java, classpath, deadline)

        proc = spawn_detached(
            [java, *_BROKER_JVM, "-cp", classpath, "kafka.Kafka", str(self.properties)],
            self.log_file,
            cwd=self.state_dir,
        )
        # Written at once, so an interrupted start still leaves a broker that stop() can find.
        self.pid_file.write_text(f"{proc.pid}\n")
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                self.pid_file.unlink(missing_ok=True)
                log = self.log_file.read_text(errors="replace")
                if "Address already in use" in log:
                    raise PortTaken
                raise LocalKafkaError(
                    f"Kafka broker exited with code {proc.returncode} while starting: {_java_failure(log)} (log: {self.log_file})"
                )
            # With a fixed port Kafka binds only once the broker is unfenced, so an answering
            # port already means ready; the log line guards against a stranger on the port.
            if port_answers(broker_port) and _STARTED_MESSAGE in self.log_file.read_text(errors="replace"):
                self.bootstrap = f"127.0.0.1:{broker_port}"
                return self.bootstrap
            time.sleep(0.2)
        self._stop_locked(timeout=10)
        raise LocalKafkaError(f"Kafka broker did not get ready in time; stopped it (log: {self.log_file})")

    def _format(self, java: str, classpath: str, deadline: float) -> None:
        # Whatever is there without a meta.properties is the leftover of an interrupted format.
        shutil.rmtree(self.data_dir, ignore_errors=True)
        try:
            fmt = subprocess.run(
                [java, *_TOOL_JVM, "-cp", classpath, "kafka.tools.StorageTool", "format",
                 "-t", _cluster_id(), "-c", str(self.properties)],
                capture_output=True,
                text=True,
                timeout=max(deadline - time.monotonic(), 1),
            )
        except subprocess.TimeoutExpired:
            raise LocalKafkaError(f"formatting {self.data_dir} did not finish in time") from None
        if fmt.returncode != 0:
            raise LocalKafkaError(f"formatting {self.data_dir} failed: {_java_failure(fmt.stdout + fmt.stderr)}")

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM the broker of this state dir, SIGKILL it after timeout, and forget it."""
        if not self.state_dir.is_dir():
            return
        with state_lock(self.state_dir / ".lock"):
            self._stop_locked(timeout)

    def _stop_locked(self, timeout: float) -> None:
        pid = read_pid(self.pid_file)
        if pid is not None and process_matches(pid, str(self.properties)):
            terminate(pid, str(self.properties), timeout)
        self.pid_file.unlink(missing_ok=True)
        self.bootstrap = None
