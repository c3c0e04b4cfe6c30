from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from groups.models import Cluster, parse_cluster_setting


class Command(BaseCommand):
    help = "Register (or update) the clusters named in the CONSOLE_CLUSTERS setting."

    def handle(self, *args, **options):
        try:
            pairs = parse_cluster_setting(settings.CONSOLE_CLUSTERS)
        except ValueError as exc:
            raise CommandError(f"CONSOLE_CLUSTERS: {exc}") from None
        for name, bootstrap in pairs:
            _, created = Cluster.objects.update_or_create(name=name, defaults={"bootstrap_servers": bootstrap})
            self.stdout.write(f"{'registered' if created else 'updated'} cluster {name} ({bootstrap})")
        if not pairs:
            self.stdout.write("CONSOLE_CLUSTERS is empty: nothing to register.")
