import os

from celery import Celery
from celery.signals import after_setup_logger, after_setup_task_logger

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")

app = Celery("console")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@after_setup_logger.connect
@after_setup_task_logger.connect
def stamp_operation_ids(logger, **kwargs) -> None:
    """Celery sets up the worker's logging itself (its -l level, its handlers); this keeps that and adds
    what settings.LOGGING gives the web processes: the operation id on each line and, with
    LOG_FORMAT=json, one JSON object a line."""
    from django.conf import settings

    from groups.logs import OperationFilter, json_formatter

    for handler in logger.handlers:
        handler.addFilter(OperationFilter())
        if settings.LOG_FORMAT == "json":
            handler.setFormatter(json_formatter())
