"""A real Kafka Streams application for the tests: tests/streams_app/WordCountApp.java, run on the JVM
with the Kafka Streams client of the broker's release, so that a streams group (KIP-1071) exists.

The jars come from Maven Central once (tests/streams_app/pom.xml, into the localkafka cache next to
the broker's) and the class is compiled with javac into the same cache; later runs need no network.
Only tests start a JVM: the console reads streams groups over its own wire code.
"""

from __future__ import annotations

import hashlib
import pathlib
import shutil
import subprocess
import tempfile

from localkafka import state_lock
from localkafka.broker import KAFKA_VERSION, TOOLS_LOG4J, cache_root

APP_DIR = pathlib.Path(__file__).resolve().parent / "streams_app"
POM, SOURCE = APP_DIR / "pom.xml", APP_DIR / "WordCountApp.java"
_COPY_DEPENDENCIES = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies"


def _digest() -> str:
    return hashlib.sha256(POM.read_bytes() + SOURCE.read_bytes()).hexdigest()[:16]


def streams_classpath() -> str:
    """The classpath that runs WordCountApp: resolved and compiled once per pom and source."""
    root = cache_root() / KAFKA_VERSION / f"streams-app-{_digest()}"
    marker = root / ".complete"
    if marker.exists():
        return f"{root / 'classes'}:{root / 'lib'}/*"
    root.parent.mkdir(parents=True, exist_ok=True)
    with state_lock(root.parent / ".streams-app.lock"):
        if not marker.exists():
            shutil.rmtree(root, ignore_errors=True)
            staging = pathlib.Path(tempfile.mkdtemp(prefix="streams-app.partial-", dir=root.parent))
            fetched = subprocess.run(
                [
                    "mvn",
                    "-B",
                    "-q",
                    "-f",
                    str(POM),
                    _COPY_DEPENDENCIES,
                    "-DincludeScope=runtime",
                    f"-DoutputDirectory={staging / 'lib'}",
                ],
                capture_output=True,
                text=True,
            )
            assert fetched.returncode == 0, fetched.stdout[-2000:]
            compiled = subprocess.run(
                ["javac", "-d", str(staging / "classes"), "-cp", f"{staging / 'lib'}/*", str(SOURCE)],
                capture_output=True,
                text=True,
            )
            assert compiled.returncode == 0, compiled.stderr
            (staging / ".complete").write_text(KAFKA_VERSION)
            staging.rename(root)
    return f"{root / 'classes'}:{root / 'lib'}/*"


class WordCount:
    """One instance of the word-count application, a member of streams group `application_id`, until
    `stop` closes its stdin (it then leaves the group as Kafka Streams' close does)."""

    def __init__(self, bootstrap: str, application_id: str, source: str, sink: str):
        self.log = tempfile.NamedTemporaryFile(prefix="streams-app-", suffix=".log", delete=False)  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                "java",
                "-Xmx256m",
                "-XX:+UseSerialGC",
                f"-Dlog4j2.configurationFile={TOOLS_LOG4J}",
                "-cp",
                streams_classpath(),
                "WordCountApp",
                bootstrap,
                application_id,
                source,
                sink,
            ],
            stdin=subprocess.PIPE,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return pathlib.Path(self.log.name).read_text()

    def stop(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        pathlib.Path(self.log.name).unlink(missing_ok=True)
