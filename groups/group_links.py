"""Which page shows a group: share (KIP-932) and streams (KIP-1071) groups have pages of their own,
classic and consumer groups share one. Used by the views and the templates' `{% group_url %}` alike."""

from __future__ import annotations

from django.urls import reverse

GROUP_PAGES = {"share": "share_group_page", "streams": "streams_group_page"}


def group_url(cluster: str, group_id: str, group_type: str) -> str:
    """The page of a group of `group_type` (a snapshot row's `type`): what every list links it to."""
    return reverse(GROUP_PAGES.get(group_type, "group_page"), args=[cluster, group_id])
