"""The accessibility checker the browser tests inject is the file `make vendor` fetched, untouched."""

import hashlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AXE_FOLDER = ROOT / "tests" / "browser" / "vendor" / "axe-core-4.14.1"


def test_the_vendored_axe_core_is_the_one_its_checksums_record():
    lines = (AXE_FOLDER / "SHA256SUMS").read_text().splitlines()
    recorded = {name: digest for digest, name in (line.split() for line in lines)}
    assert set(recorded) == {"axe.min.js", "LICENSE"}
    for name, digest in recorded.items():
        assert hashlib.sha256((AXE_FOLDER / name).read_bytes()).hexdigest() == digest, name


def test_the_makefile_pins_the_axe_core_version_the_tests_load():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^AXE_VERSION := 4\.14\.1$", makefile, re.M)
    assert "axe-core-4.14.1" in (ROOT / "tests" / "browser" / "page_checks.py").read_text()
    assert (AXE_FOLDER / "axe.min.js").read_text(errors="replace").startswith("/*! axe v4.14.1")
