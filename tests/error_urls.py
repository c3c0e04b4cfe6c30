"""The console's URLs and one that fails unexpectedly, to see the 500 page production shows
(tests/integration/test_production_pages.py serves them through gunicorn)."""

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.urls import path

from console.urls import handler403, handler404, handler500, urlpatterns

__all__ = ["handler403", "handler404", "handler500", "urlpatterns"]


class UnexpectedFailure(Exception):
    pass


@login_not_required
def fail(request: HttpRequest) -> HttpResponse:
    raise UnexpectedFailure("secret-looking detail: DATABASE_URL=postgres://console:hunter2@db/console")


urlpatterns = [path("test-only/fail/", fail), *urlpatterns]
