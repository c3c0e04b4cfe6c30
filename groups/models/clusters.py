"""Kafka clusters the console manages, and how they are named in the CONSOLE_CLUSTERS setting."""

import os
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models


class Cluster(models.Model):
    """A Kafka cluster the console talks to.

    Secrets are never stored here: `secret_ref` names where the SASL password lives
    (`env:NAME` or `file:/path`), and it is read only when a client is built.
    """

    class Security(models.TextChoices):
        PLAINTEXT = "PLAINTEXT", "PLAINTEXT"
        SSL = "SSL", "SSL"
        SASL_PLAINTEXT = "SASL_PLAINTEXT", "SASL over PLAINTEXT"
        SASL_SSL = "SASL_SSL", "SASL over SSL"

    class Mechanism(models.TextChoices):
        NONE = "", "—"
        PLAIN = "PLAIN", "PLAIN"
        SCRAM_SHA_256 = "SCRAM-SHA-256", "SCRAM-SHA-256"
        SCRAM_SHA_512 = "SCRAM-SHA-512", "SCRAM-SHA-512"

    name = models.CharField(
        max_length=100,
        unique=True,
        validators=[RegexValidator(r"^[A-Za-z0-9._-]+$", "Use letters, digits, dots, dashes and underscores.")],
        help_text="Short name used in URLs, e.g. 'prod-eu'.",
    )
    bootstrap_servers = models.CharField(max_length=1000, help_text="host:port[,host:port...]")
    security_protocol = models.CharField(max_length=20, choices=Security.choices, default=Security.PLAINTEXT)
    sasl_mechanism = models.CharField(max_length=20, choices=Mechanism.choices, blank=True, default="")
    sasl_username = models.CharField(max_length=200, blank=True, default="")
    secret_ref = models.CharField(
        max_length=500,
        blank=True,
        default="",
        help_text="Where the SASL password is read from: 'env:VARIABLE' or 'file:/path/to/file'. "
        "The password itself is never stored.",
    )
    ssl_ca_location = models.CharField(max_length=500, blank=True, default="", help_text="CA bundle path for SSL.")
    require_approval = models.BooleanField(
        default=False,
        help_text="Changes wait until another user with the approve right on the group approves them.",
    )
    approval_expiry_minutes = models.PositiveIntegerField(
        default=60,
        validators=[MinValueValidator(1)],
        help_text="A request no one approved or rejected within this many minutes is cancelled.",
    )
    collect_every_seconds = models.PositiveIntegerField(
        default=15,
        validators=[MinValueValidator(5)],
        help_text="How often the collector reads the cluster's groups, offsets and lag, in seconds.",
    )
    metrics_per_partition = models.BooleanField(
        default=True,
        help_text="/metrics gives each group-partition's lag, lag in seconds and offset; turn off to keep only "
        "each group's figures (Prometheus' series count grows with every partition of every group).",
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        uses_sasl = self.security_protocol.startswith("SASL")
        if uses_sasl and not self.sasl_mechanism:
            raise ValidationError({"sasl_mechanism": "Choose a SASL mechanism for a SASL security protocol."})
        if uses_sasl and not self.secret_ref:
            raise ValidationError({"secret_ref": "Name where the SASL password is read from (env:NAME or file:/path)."})
        if self.secret_ref and not self.secret_ref.startswith(("env:", "file:")):
            raise ValidationError({"secret_ref": "Write 'env:VARIABLE' or 'file:/path'; never the password itself."})

    def read_secret(self) -> str:
        """The SASL password, read from where `secret_ref` points; empty if none is configured."""
        kind, _, where = self.secret_ref.partition(":")
        if kind == "env":
            value = os.environ.get(where)
            if value is None:
                raise ValueError(f"environment variable {where} (the password of cluster {self.name}) is not set")
            return value
        if kind == "file":
            try:
                return Path(where).read_text().strip()
            except OSError as exc:
                raise ValueError(f"cannot read the password file of cluster {self.name}: {exc.strerror}") from None
        return ""

    def client_config(self) -> dict[str, str]:
        """librdkafka settings for this cluster (includes the secret: never log or render it)."""
        config = {"bootstrap.servers": self.bootstrap_servers, "security.protocol": self.security_protocol}
        if self.security_protocol.startswith("SASL"):
            config["sasl.mechanism"] = self.sasl_mechanism
            config["sasl.username"] = self.sasl_username
            config["sasl.password"] = self.read_secret()
        if self.ssl_ca_location:
            config["ssl.ca.location"] = self.ssl_ca_location
        return config


def parse_cluster_setting(text: str) -> list[tuple[str, str]]:
    """`name=host:port[,host:port];name2=...` (the CONSOLE_CLUSTERS setting) as (name, bootstrap) pairs."""
    pairs = []
    for entry in filter(None, (part.strip() for part in text.split(";"))):
        name, sep, bootstrap = entry.partition("=")
        if not sep or not name.strip() or not bootstrap.strip():
            raise ValueError(f"'{entry}' is not of the form name=host:port[,host:port]")
        pairs.append((name.strip(), bootstrap.strip()))
    return pairs
