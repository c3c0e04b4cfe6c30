"""Who may scrape `/metrics`: a request with the bearer token METRICS_TOKEN, or one from an address in
METRICS_ALLOWED_IPS.

The page names every group of every cluster, so with neither setting it is refused to everyone.
Sessions and API tokens do not count: Prometheus carries neither, and the check stays one place.
"""

from __future__ import annotations

import hmac
import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    """METRICS_ALLOWED_IPS' entries (addresses, or networks with host bits allowed) as networks; the settings
    refuse to start with an entry that is neither."""
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def _address_in(address: str, allowed: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    # A dual-stack server reports an IPv4 client as ::ffff:a.b.c.d; the list names it a.b.c.d.
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in allowed)


def refusal(request: HttpRequest) -> str:
    """Why this scrape is refused, in one line that says what to do; empty when it is allowed.

    The address is the connection's (REMOTE_ADDR): a proxy's forwarded-for header could be forged.
    """
    token = settings.METRICS_TOKEN
    allowed = networks(tuple(settings.METRICS_ALLOWED_IPS))
    if not token and not allowed:
        return (
            "Metrics are off: set METRICS_TOKEN (scrapes then send 'Authorization: Bearer <token>') or "
            "METRICS_ALLOWED_IPS (addresses or networks) in the console's environment."
        )
    header = request.headers.get("Authorization", "")
    scheme, _, sent = header.partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(sent.strip().encode(), token.encode()):
        return ""
    address = request.META.get("REMOTE_ADDR", "")
    if _address_in(address, allowed):
        return ""
    if token and header:
        return "The scrape's bearer token is not METRICS_TOKEN: check the token in Prometheus' scrape configuration."
    if token and not allowed:
        return "Send the scrape token as 'Authorization: Bearer <token>' (the console's METRICS_TOKEN)."
    if not token:
        return f"{address or 'This address'} is not in METRICS_ALLOWED_IPS: scrape from an address it lists."
    return (
        f"Send 'Authorization: Bearer <token>' (METRICS_TOKEN), or scrape from an address in "
        f"METRICS_ALLOWED_IPS ({address or 'this one'} is not)."
    )
