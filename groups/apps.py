from django.apps import AppConfig


class GroupsConfig(AppConfig):
    name = "groups"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Domain code enqueues tasks by name: every process (web, command, worker) registers them.
        from groups import (
            checks,  # noqa: F401  (registers the system checks)
            tasks,  # noqa: F401
        )
