"""What every page may need: the signed-in user's links, and numbers the code owns (never typed twice)."""

from dataclasses import dataclass

from django.http import HttpRequest
from django.urls import reverse

from groups import access
from groups.models import Cluster
from groups.views.common import PREVIEW_MAX_AGE

# Pages that exist for every cluster: switching cluster keeps the page; from any other page it opens the overview.
SAME_PAGE_ON_EVERY_CLUSTER = ("cluster_overview", "group_list", "topic_list", "share_group_list")


@dataclass(frozen=True)
class ClusterSwitcher:
    """The header's cluster switcher: the cluster of the page in view (None off a cluster's pages) and, for
    each cluster the user may see, its name and where switching to it leads."""

    current: str | None
    choices: list[tuple[str, str]]


def cluster_switcher(request: HttpRequest) -> ClusterSwitcher:
    match = request.resolver_match
    here = match.kwargs.get("cluster") if match else None
    page = match.url_name if match and match.url_name in SAME_PAGE_ON_EVERY_CLUSTER else "cluster_overview"
    visible = [c.name for c in Cluster.objects.order_by("name") if access.allowed(request.user, "view", c)]
    return ClusterSwitcher(here if here in visible else None, [(name, reverse(page, args=[name])) for name in visible])


def console(request: HttpRequest) -> dict:
    return {
        # Callables, so the grants are read only by a template that shows the link.
        "may_approve": lambda: access.allowed(request.user, "approve"),
        "may_audit": lambda: access.allowed(request.user, "audit"),
        "cluster_switcher": lambda: cluster_switcher(request),
        # The smallest role that allows each action, as refusals and hints name it.
        "needs": access.ROLE_NEEDED,
        "preview_minutes": PREVIEW_MAX_AGE // 60,
    }
