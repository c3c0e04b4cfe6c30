"""A single-node KRaft Apache Kafka (broker and controller in one JVM) plus Kafka's own CLI tools.

The jars come from Maven Central once (ensure_jars); after that nothing touches the network.
"""

from __future__ import annotations

import base64
import hashlib
import os
import pathlib
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass

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
    write_private,
)
from .tls import BrokerTls

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
    "share-groups": "org.apache.kafka.tools.consumer.group.ShareGroupCommand",
    "console-share-consumer": "org.apache.kafka.tools.consumer.ConsoleShareConsumer",
    "streams-groups": "org.apache.kafka.tools.streams.StreamsGroupCommand",
    "features": "org.apache.kafka.tools.FeatureCommand",
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
listeners={listeners}
advertised.listeners={advertised_listeners}
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map={protocol_map}
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
# Share groups (KIP-932; Kafka 4.3 formats with share.version=1, so they need no feature flag): the
# same short beats, or a share consumer waits 5 s for its first partitions.
group.share.min.heartbeat.interval.ms=500
group.share.heartbeat.interval.ms=500
group.share.min.session.timeout.ms=1000
group.share.session.timeout.ms=10000
"""

# Clients of the SASL_SSL listener prove a SCRAM user's password over TLS; the broker and its
# controller keep talking PLAINTEXT to each other, which is not what is being tested.
_SECURED_PROPERTIES = """
sasl.enabled.mechanisms={mechanism}
listener.name.sasl_ssl.{mechanism_lower}.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.ssl.keystore.type=PKCS12
listener.name.sasl_ssl.ssl.keystore.location={keystore}
listener.name.sasl_ssl.ssl.keystore.password={keystore_password}
"""

SCRAM_MECHANISM = "SCRAM-SHA-512"
SCRAM_USERNAME = "console"
# The listener names in the order server.properties lists them; SASL_SSL only on a secured broker.
_LISTENERS = ("PLAINTEXT", "CONTROLLER", "SASL_SSL")


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
            print(
                f"localkafka: fetching Apache Kafka {KAFKA_VERSION} jars with Maven (first run only)", file=sys.stderr
            )
        # Under the lock, any staging dir is the leftover of a killed download.
        for stale in root.glob("lib.partial-*"):
            shutil.rmtree(stale, ignore_errors=True)
        staging = pathlib.Path(tempfile.mkdtemp(prefix="lib.partial-", dir=root))
        try:
            result = subprocess.run(
                [
                    mvn,
                    "-B",
                    "-q",
                    "-f",
                    str(POM),
                    _COPY_DEPENDENCIES,
                    "-DincludeScope=runtime",
                    f"-DoutputDirectory={staging}",
                ],
                capture_output=True,
                text=True,
            )
            if result.returncode != 0:
                # Even in batch mode Maven starts its output with a colour reset.
                output = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)
                errors = [
                    line.removeprefix("[ERROR]").strip() for line in output.splitlines() if line.startswith("[ERROR]")
                ]
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


# The test suite runs the tools many times, and most of each run is the JVM loading Kafka's classes.
# With class sharing on (tests/conftest.py turns it on; benchmarks leave it off, to time the tool as
# shipped), the first run_tool writes an AppCDS archive of the classes it loaded and later runs map it:
# measured, 0.77 s of CPU and 0.57 s wall per `--describe --all-groups` instead of 1.25 s and 1.0 s. The
# JVM checks the archive against itself and the class path and ignores one that does not match; its
# messages about that are silenced.
_class_archive = {"on": False}
_CDS_QUIET = ("-Xlog:cds=off", "-Xlog:cds+dynamic=off")
_ARCHIVE_NAME = "tools-classes.jsa"  # beside the jars of the Kafka version it was made from


def share_tool_classes(on: bool = True) -> None:
    """Let the tools' JVMs share one class-data archive (see above)."""
    _class_archive["on"] = on


def _class_sharing(*, may_write: bool) -> tuple[tuple[str, ...], pathlib.Path | None]:
    """The JVM flags that map the tools' class archive, or (`may_write`, and there is none yet) that write
    one; and the file it is being written to, to move into place once the JVM has exited."""
    if not _class_archive["on"]:
        return (), None
    archive = ensure_jars().parent / _ARCHIVE_NAME
    if archive.exists():
        return (f"-XX:SharedArchiveFile={archive}", *_CDS_QUIET), None
    if not may_write:
        return (), None
    # Written under a name of this run's own, then moved into place whole: runs in other processes may
    # be writing at the same time, and a half-written archive must never be mapped.
    dump = archive.with_name(f"{archive.name}.{os.getpid()}.{uuid.uuid4().hex}")
    return (f"-XX:ArchiveClassesAtExit={dump}", *_CDS_QUIET), dump


def tool_command(tool: str, args: list[str], bootstrap: str, *, jvm: tuple[str, ...] | None = None) -> list[str]:
    """The argv that runs a CLI tool from TOOLS against bootstrap (`jvm`: its class-sharing flags, if not
    those that map an existing archive)."""
    try:
        main_class = TOOLS[tool]
    except KeyError:
        raise LocalKafkaError(f"unknown tool {tool!r}: choose one of {', '.join(TOOLS)}") from None
    classpath = f"{ensure_jars()}/*"
    if jvm is None:
        jvm, _ = _class_sharing(may_write=False)
    return [_java(), *_TOOL_JVM, *jvm, "-cp", classpath, main_class, "--bootstrap-server", bootstrap, *args]


def run_tool(
    tool: str, args: list[str], bootstrap: str, *, input: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run Apache Kafka's own CLI class for tool (a TOOLS key) with --bootstrap-server added.

    stdout is the tool's answer only; its log lines (WARN and above) go to stderr. Without input,
    stdin is empty rather than inherited, so a console producer never waits on the terminal.
    """
    stdin = {"input": input} if input is not None else {"stdin": subprocess.DEVNULL}
    jvm, dump = _class_sharing(may_write=True)
    try:
        result = subprocess.run(
            tool_command(tool, args, bootstrap, jvm=jvm), capture_output=True, text=True, timeout=timeout, **stdin
        )
    except BaseException:
        if dump is not None:
            dump.unlink(missing_ok=True)  # killed: perhaps half written
        raise
    if dump is not None and dump.exists():
        if result.returncode >= 0:  # the JVM exited by itself, having written the archive whole
            os.replace(dump, dump.with_name(_ARCHIVE_NAME))
        else:
            dump.unlink()
    return result


def _cluster_id() -> str:
    """A 22-character base64url UUID like Kafka's own; never starting with '-', which the
    storage tool's argument parser would read as an option."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


@dataclass(frozen=True)
class SecuredListener:
    """How a client reaches a secured broker: SASL_SSL, a SCRAM user, the CA that signed the broker."""

    bootstrap: str
    username: str
    password_file: pathlib.Path
    ca_file: pathlib.Path
    mechanism: str = SCRAM_MECHANISM


class LocalKafka:
    """A broker whose files (config, data, log, pid, and for a secured one its CA, keystore and
    SCRAM password) live in one state dir."""

    def __init__(self, state_dir: pathlib.Path | str | None = None):
        self.state_dir = pathlib.Path(state_dir or DEFAULT_STATE_DIR).resolve()
        self.properties = self.state_dir / "server.properties"
        self.data_dir = self.state_dir / "data"
        self.log_file = self.state_dir / "broker.log"
        self.pid_file = self.state_dir / "broker.pid"
        self.tls = BrokerTls(self.state_dir / "tls")
        # Exists exactly when the formatted data holds the SCRAM user with this password.
        self.password_file = self.state_dir / "sasl-password"
        self.bootstrap: str | None = None
        self.secured: SecuredListener | None = None

    def _configured_ports(self) -> dict[str, int] | None:
        """Port of each listener at the last start, which every later start reuses."""
        try:
            text = self.properties.read_text()
        except FileNotFoundError:
            return None
        match = re.search(r"^listeners=(.*)$", text, re.MULTILINE)
        ports = dict(re.findall(r"([A-Z_]+)://127\.0\.0\.1:(\d+)", match[1])) if match else {}
        if "PLAINTEXT" not in ports or "CONTROLLER" not in ports:
            return None
        return {name: int(port) for name, port in ports.items()}

    def _formatted(self) -> bool:
        # The storage tool's meta.properties (cluster id, node id) marks a formatted data dir.
        try:
            return "cluster.id=" in (self.data_dir / "meta.properties").read_text()
        except FileNotFoundError:
            return False

    def status(self) -> str | None:
        """The bootstrap address if the broker of this state dir is running and listening, else None.

        `secured` is then the SASL_SSL listener's access when the broker has one.
        """
        pid = read_pid(self.pid_file)
        ports = self._configured_ports()
        self.bootstrap, self.secured = None, None
        if pid is None or ports is None or not process_matches(pid, str(self.properties)):
            return None
        if not port_answers(ports["PLAINTEXT"]):
            return None
        self.bootstrap = f"127.0.0.1:{ports['PLAINTEXT']}"
        if "SASL_SSL" in ports and self.password_file.is_file():
            self.secured = SecuredListener(
                f"127.0.0.1:{ports['SASL_SSL']}", SCRAM_USERNAME, self.password_file, self.tls.ca_file
            )
        return self.bootstrap

    def start(self, timeout: float = 90, new_ports: bool = False, secured: bool = False) -> str:
        """Reuse the running broker of this state dir, or start it detached.

        A broker started before keeps its data (no new format) and its ports, so clients that knew
        it find it again with every topic and group. new_ports moves it to free ports, data kept.
        secured adds a SASL_SSL listener (see `secured`); once added, later starts keep it.
        Returns "127.0.0.1:PORT" (the PLAINTEXT listener) once the broker serves requests. timeout
        covers format and startup, not the one-time jar download.
        """
        with state_lock(self.state_dir / ".lock"):
            remembered = self._configured_ports()
            secured = secured or (remembered is not None and "SASL_SSL" in remembered)
            running = self.status()
            if running and (self.secured or not secured):
                return running
            # Alive but not listening means hung or killed half-way through a start: replace it.
            # Alive without the secured listener that is now asked for: restart it with one.
            self._stop_locked(timeout=10)
            lib = ensure_jars()
            java = _java()
            deadline = time.monotonic() + timeout
            names = _LISTENERS if secured else _LISTENERS[:2]
            if remembered is None or new_ports:
                try:
                    return self._launch(java, lib, dict(zip(names, free_ports(len(names)), strict=True)), deadline)
                except PortTaken:
                    return self._launch(java, lib, dict(zip(names, free_ports(len(names)), strict=True)), deadline)
            fresh = iter(free_ports(sum(name not in remembered for name in names)))
            ports = {name: remembered[name] if name in remembered else next(fresh) for name in names}
            try:
                if all(port_is_free(port) for port in ports.values()):
                    return self._launch(java, lib, ports, deadline)
            except PortTaken:
                pass  # taken between the check and the bind: the same answer
            taken = next((port for port in ports.values() if not port_is_free(port)), ports["PLAINTEXT"])
            raise LocalKafkaError(
                f"port {taken}, which the broker of {self.state_dir} keeps across restarts, is in use by another "
                "process: stop that process, or run `start --new-ports` to move the broker to free ports "
                "(topics and groups are kept; clients then need the new bootstrap)"
            )

    def _launch(self, java: str, lib: pathlib.Path, ports: dict[str, int], deadline: float) -> str:
        secured = "SASL_SSL" in ports
        listeners = ",".join(f"{name}://127.0.0.1:{port}" for name, port in ports.items())
        advertised = ",".join(f"{name}://127.0.0.1:{port}" for name, port in ports.items() if name != "CONTROLLER")
        protocol_map = ",".join(f"{name}:{'PLAINTEXT' if name == 'CONTROLLER' else name}" for name in ports)
        properties = _SERVER_PROPERTIES.format(
            controller_port=ports["CONTROLLER"],
            listeners=listeners,
            advertised_listeners=advertised,
            protocol_map=protocol_map,
            data_dir=self.data_dir,
        )
        if secured:
            self.tls.ensure()
            properties += _SECURED_PROPERTIES.format(
                mechanism=SCRAM_MECHANISM,
                mechanism_lower=SCRAM_MECHANISM.lower(),
                keystore=self.tls.keystore,
                keystore_password=self.tls.keystore_password,
            )
        write_private(self.properties, properties)  # it holds the keystore's password
        classpath = f"{lib}/*"
        # A formatted data dir without the user (formatted before the broker was secured) gets it
        # once the broker runs; password_file is written only once the user exists.
        missing_user_password = None
        if not self._formatted():
            password = self._password() if secured else None
            self.password_file.unlink(missing_ok=True)  # the old data's user goes with the old data
            self._format(java, classpath, deadline, password)
            if password is not None:
                self._keep_password(password)
        elif secured and not self.password_file.is_file():
            missing_user_password = self._password()

        proc = spawn_detached(
            [java, *_BROKER_JVM, "-cp", classpath, "kafka.Kafka", str(self.properties)],
            self.log_file,
            cwd=self.state_dir,
        )
        # Written at once, so an interrupted start still leaves a broker that stop() can find.
        self.pid_file.write_text(f"{proc.pid}\n")
        broker_port = ports["PLAINTEXT"]
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
                bootstrap = f"127.0.0.1:{broker_port}"
                if missing_user_password is not None:
                    self._add_scram_user(java, classpath, bootstrap, missing_user_password, deadline)
                self.status()  # fills in `secured`
                return bootstrap
            time.sleep(0.2)
        self._stop_locked(timeout=10)
        raise LocalKafkaError(f"Kafka broker did not get ready in time; stopped it (log: {self.log_file})")

    def _password(self) -> str:
        """The SCRAM password a format or an added user gets: the one kept from before, if any."""
        partial = self.password_file.with_suffix(".partial")
        try:
            return partial.read_text().strip()
        except FileNotFoundError:
            password = secrets.token_urlsafe(24)
            write_private(partial, password + "\n")
            return password

    def _keep_password(self, password: str) -> None:
        write_private(self.password_file, password + "\n")
        self.password_file.with_suffix(".partial").unlink(missing_ok=True)

    def _format(self, java: str, classpath: str, deadline: float, scram_password: str | None) -> None:
        # Whatever is there without a meta.properties is the leftover of an interrupted format.
        shutil.rmtree(self.data_dir, ignore_errors=True)
        # The storage tool takes the password on its command line only; token_urlsafe's alphabet needs
        # no quoting inside its [name=...,password=...] syntax.
        scram = (
            ["--add-scram", f"{SCRAM_MECHANISM}=[name={SCRAM_USERNAME},password={scram_password}]"]
            if scram_password
            else []
        )
        try:
            fmt = subprocess.run(
                [
                    java,
                    *_TOOL_JVM,
                    "-cp",
                    classpath,
                    "kafka.tools.StorageTool",
                    "format",
                    "-t",
                    _cluster_id(),
                    "-c",
                    str(self.properties),
                    *scram,
                ],
                capture_output=True,
                text=True,
                timeout=max(deadline - time.monotonic(), 1),
            )
        except subprocess.TimeoutExpired:
            raise LocalKafkaError(f"formatting {self.data_dir} did not finish in time") from None
        if fmt.returncode != 0:
            failure = _java_failure(fmt.stdout + fmt.stderr)
            if scram_password:
                failure = failure.replace(scram_password, "<password>")
            raise LocalKafkaError(f"formatting {self.data_dir} failed: {failure}")

    def _add_scram_user(self, java: str, classpath: str, bootstrap: str, password: str, deadline: float) -> None:
        """Create the SCRAM user on a broker formatted before it was secured, through Kafka's own
        config tool on the PLAINTEXT listener; the password travels in a file, not on a command line."""
        config_file = self.state_dir / "scram-user.properties"
        # Unlike --add-config, the file form takes the value without [...] around it.
        write_private(config_file, f"{SCRAM_MECHANISM}=password={password}\n")
        try:
            result = subprocess.run(
                [
                    java,
                    *_TOOL_JVM,
                    "-cp",
                    classpath,
                    "kafka.admin.ConfigCommand",
                    "--bootstrap-server",
                    bootstrap,
                    "--alter",
                    "--entity-type",
                    "users",
                    "--entity-name",
                    SCRAM_USERNAME,
                    "--add-config-file",
                    str(config_file),
                ],
                capture_output=True,
                text=True,
                check=False,
                timeout=max(deadline - time.monotonic(), 10),
            )
        finally:
            config_file.unlink(missing_ok=True)
        if result.returncode != 0:
            failure = _java_failure(result.stdout + result.stderr).replace(password, "<password>")
            raise LocalKafkaError(f"adding the SCRAM user {SCRAM_USERNAME} failed: {failure}")
        self._keep_password(password)

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
        self.secured = None
