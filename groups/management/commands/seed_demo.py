import os
import secrets

from django.core.management.base import BaseCommand
from django.db import transaction

from groups.access import ensure_demo_users
from groups.models import Cluster


class Command(BaseCommand):
    help = (
        "Register the demo cluster as 'local' and create one demo user per role (viewer, operator, "
        "approver, admin). "
        "The password is $DEMO_PASSWORD if set, else a new random one; it is printed. Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--bootstrap", required=True, help="HOST:PORT of the demo broker")

    def handle(self, *args, bootstrap: str, **options):
        password = os.environ.get("DEMO_PASSWORD") or secrets.token_urlsafe(12)
        with transaction.atomic():
            # The demo broker is a plaintext local one: any SASL or SSL settings left from an
            # earlier edit of the row would only break the connection.
            _, created = Cluster.objects.update_or_create(
                name="local",
                defaults={
                    "bootstrap_servers": bootstrap,
                    "security_protocol": Cluster.Security.PLAINTEXT,
                    "sasl_mechanism": "",
                    "sasl_username": "",
                    "secret_ref": "",
                    "ssl_ca_location": "",
                },
            )
            users = ensure_demo_users(password)
        self.stdout.write(f"{'registered' if created else 'updated'} cluster local ({bootstrap})")
        for role, username in users.items():
            self.stdout.write(f"demo login ({role}): {username} / {password}")
