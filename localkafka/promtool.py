"""Prometheus' `promtool`, which checks and unit-tests the alerting rules the console ships
(docs/prometheus-rules.yml) against the console's real `/metrics`.

It comes from Debian's `prometheus` package, unpacked (never installed: installing would also set up
a Prometheus server and its service) into the localkafka cache, once per package version.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import tempfile

from . import LocalKafkaError, state_lock
from .broker import cache_root

PACKAGE = "prometheus"


def _apt(*args: str) -> subprocess.CompletedProcess:
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    return subprocess.run([*sudo, "apt-get", *args], capture_output=True, text=True, check=False)


def _candidate_version() -> str:
    """The version apt would install; empty when its package lists do not know the package (yet)."""
    shown = subprocess.run(["apt-cache", "policy", PACKAGE], capture_output=True, text=True, check=False).stdout
    for line in shown.splitlines():
        if line.strip().startswith("Candidate:"):
            version = line.split(":", 1)[1].strip()
            return "" if version == "(none)" else version
    return ""


def ensure_promtool() -> pathlib.Path:
    """The path of promtool, unpacked from Debian's package on first use."""
    version = _candidate_version()
    if not version:
        _apt("update", "-qq")  # a fresh machine's lists may be empty
        version = _candidate_version()
    if not version:
        raise LocalKafkaError(f"apt knows no '{PACKAGE}' package: promtool comes from it")
    root = cache_root() / f"promtool-{version.replace(':', '_')}"
    binary = root / "usr" / "bin" / "promtool"
    if binary.exists():
        return binary
    root.parent.mkdir(parents=True, exist_ok=True)
    with state_lock(root.parent / ".promtool.lock"):
        if binary.exists():
            return binary
        staging = pathlib.Path(tempfile.mkdtemp(prefix="promtool.partial-", dir=root.parent))
        try:
            # apt-get download writes into the working directory; it needs no root.
            fetched = subprocess.run(
                ["apt-get", "download", f"{PACKAGE}={version}"],
                cwd=staging,
                capture_output=True,
                text=True,
                check=False,
            )
            debs = list(staging.glob("*.deb"))
            if fetched.returncode != 0 or not debs:
                raise LocalKafkaError(f"apt-get download {PACKAGE}={version} failed: {fetched.stderr.strip()[-500:]}")
            subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(staging / "unpacked")], check=True)
            shutil.rmtree(root, ignore_errors=True)
            (staging / "unpacked").rename(root)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return binary
