"""A form sent back with its errors, each by its field and all of them summarised above the form."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_htmx.http import reselect, reswap, retarget

from groups.views.common import is_partial


def form_with_errors(request: HttpRequest, template: str, entry_id: str, context: dict) -> HttpResponse:
    """The page with the form marked (400), or for htmx the marked form swapped in place of the one sent.

    htmx posts the form into the preview below it; errors belong by their fields, so the answer is
    retargeted at the form's block (`entry_id`, the summary and the form), and the preview an earlier
    request left is emptied (the page marks it `hx-swap-oob`) so no plan stays beside a form that changed.
    """
    if is_partial(request):
        # 200: htmx swaps no 4xx answer in.
        response = render(request, template, {**context, "stale_preview": True})
        return reselect(reswap(retarget(response, f"#{entry_id}"), "outerHTML"), f"#{entry_id}")
    return render(request, template, context, status=400)
