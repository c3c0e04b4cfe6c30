"""Throwaway TLS material for the local broker's SASL_SSL listener, made with Debian's openssl.

A private CA signs one broker certificate whose names are 127.0.0.1 and localhost (clients verify
the name they dialled, and librdkafka checks it by default). The broker reads key and chain from a
PKCS#12 keystore; clients get the CA's certificate as a PEM file. Nothing here is meant to protect
anything beyond a developer's machine: the keys are not encrypted on disk, only kept to the owner.
"""

from __future__ import annotations

import pathlib
import secrets
import shutil
import subprocess

from . import LocalKafkaError, write_private

# EC keys: generated in milliseconds where RSA takes a noticeable fraction of a second.
_KEY_ALGORITHM = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]
_BROKER_EXTENSIONS = """\
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
"""


def _openssl(*args: str, cwd: pathlib.Path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise LocalKafkaError("openssl not found: install Debian's openssl (make system-packages does)")
    result = subprocess.run([openssl, *args], cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        raise LocalKafkaError(f"openssl {args[0]} failed in {cwd}: {lines[-1] if lines else result.returncode}")


def make_ca(directory: pathlib.Path, name: str = "localkafka throwaway CA") -> pathlib.Path:
    """A self-signed CA (ca.key, ca.pem) in directory; returns the certificate's path."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    _openssl("genpkey", *_KEY_ALGORITHM, "-out", "ca.key", cwd=directory)
    (directory / "ca.key").chmod(0o600)
    _openssl(
        "req",
        "-x509",
        "-new",
        "-key",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "3650",
        "-subj",
        f"/CN={name}",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )
    return directory / "ca.pem"


class BrokerTls:
    """The CA, the broker's keystore and its password in one directory of the state dir."""

    def __init__(self, directory: pathlib.Path):
        self.directory = directory
        self.ca_file = directory / "ca.pem"
        self.keystore = directory / "broker.p12"
        self.keystore_password_file = directory / "keystore-password"

    def exists(self) -> bool:
        return all(path.is_file() for path in (self.ca_file, self.keystore, self.keystore_password_file))

    @property
    def keystore_password(self) -> str:
        return self.keystore_password_file.read_text().strip()

    def ensure(self) -> None:
        """Make the CA and the broker's certificate once; a later start reuses them, so clients
        holding the CA file keep trusting the broker."""
        if self.exists():
            return
        shutil.rmtree(self.directory, ignore_errors=True)  # a half-made set from an interrupted start
        make_ca(self.directory)
        d = self.directory
        _openssl("genpkey", *_KEY_ALGORITHM, "-out", "broker.key", cwd=d)
        (d / "broker.key").chmod(0o600)
        _openssl("req", "-new", "-key", "broker.key", "-out", "broker.csr", "-subj", "/CN=localhost", cwd=d)
        (d / "broker.ext").write_text(_BROKER_EXTENSIONS)
        _openssl(
            "x509",
            "-req",
            "-in",
            "broker.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            str(secrets.randbits(63)),
            "-days",
            "825",
            "-extfile",
            "broker.ext",
            "-out",
            "broker.pem",
            cwd=d,
        )
        password = secrets.token_urlsafe(18)
        # The password reaches openssl through a file, never its command line (visible in /proc).
        write_private(d / "keystore-password.partial", password + "\n")
        _openssl(
            "pkcs12",
            "-export",
            "-in",
            "broker.pem",
            "-inkey",
            "broker.key",
            "-certfile",
            "ca.pem",
            "-name",
            "broker",
            "-passout",
            "file:keystore-password.partial",
            "-out",
            "broker.p12",
            cwd=d,
        )
        self.keystore.chmod(0o600)
        for leftover in ("broker.csr", "broker.ext"):
            (d / leftover).unlink()
        # Last, so exists() is true only for a complete set.
        (d / "keystore-password.partial").rename(self.keystore_password_file)
