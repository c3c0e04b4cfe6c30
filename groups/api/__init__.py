"""The JSON API under /api/: reads in `read` (clusters, groups, topics) and `activity` (operations,
approvals, audit), actions in `act`, failures as JSON in `errors`, sign-in in
`auth`. django-ninja generates the OpenAPI 3 schema (/api/schema/) from the routes' type hints and
pydantic schemas; /api/docs/ browses it with the vendored Swagger UI (no CDN)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from ninja import NinjaAPI
from ninja.openapi.docs import DocsBase

from groups.api import act, activity, read, typed_groups
from groups.api.auth import AUTH
from groups.api.errors import install_handlers

SWAGGER_UI = "groups/vendor/swagger-ui-5.35.0"


class VendoredSwagger(DocsBase):
    """Swagger UI from this console's static files, so the docs load nothing from a CDN."""

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs) -> HttpResponse:
        context = {"schema_url": self.get_openapi_url(api, kwargs), "swagger_ui": SWAGGER_UI, "api": api}
        return render(request, "groups/api_docs.html", context)


api = NinjaAPI(
    title="Consumer group console API",
    version="1",
    description=(
        "Everything the console's pages do, as JSON. Send `Authorization: Token <key>` (make one on the API "
        "token page) or use a signed-in browser session, whose changes also need the CSRF token. Errors are "
        '`{"error": ..., "code": ...}`. A change is previewed first: the preview answers the plan and a token, '
        "and the request sends the token back with a reason."
    ),
    urls_namespace="api",
    auth=AUTH,
    openapi_url="/schema/",
    docs_url="/docs/",
    docs=VendoredSwagger(),
)
install_handlers(api)
api.add_router("", read.router)
api.add_router("", typed_groups.router)
api.add_router("", activity.router)
api.add_router("", act.router)
