"""Which webhook destinations the console refuses to post to: link-local ones, named or resolved.

Cloud metadata services answer on link-local addresses (169.254.169.254), and a rule's webhook must not
make the console call them with whatever the instance's identity may do. A literal address is judged as
it is; a host name is resolved, when the rule is saved and again before each delivery
(the name may point elsewhere by then), and refused if any of its addresses is link-local. Loopback and
private addresses stay allowed: on-premises receivers and tests use them.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

# A name some clouds give their metadata service, refused even where it does not resolve (off that cloud).
_METADATA_NAMES = {"metadata.google.internal"}
LINK_LOCAL_RANGES = "169.254.0.0/16 or fe80::/10"

# host, port -> the addresses the host resolves to; raises OSError when it does not resolve.
Resolver = Callable[[str, int], list[str]]


class DestinationError(Exception):
    """A webhook address whose host cannot be looked up (a name that does not resolve, a port out of range);
    the message names it and why."""


def resolve_host(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to, as the connection to it would look them up."""
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)})


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:  # a name, not an address
        return None


# NAT64's well-known prefix (RFC 6052): 64:ff9b::a9fe:a9fe reaches 169.254.169.254 through a NAT64 gateway.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _is_link_local(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if not isinstance(ip, ipaddress.IPv6Address):
        return ip.is_link_local
    embedded = ip.ipv4_mapped or (ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in _NAT64 else None)
    return ip.is_link_local or (embedded is not None and embedded.is_link_local)


def link_local_refusal(url: str, resolve: Resolver = resolve_host) -> str | None:
    """Why the console must not post to `url` (its host is, or resolves to, a link-local address), or None.

    Raises DestinationError for a host name that does not resolve."""
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".")
    why = f"in {LINK_LOCAL_RANGES}, where cloud metadata services answer, not webhook receivers"
    if host.lower() in _METADATA_NAMES:
        return (
            f"A link-local address is refused: '{host}' names a cloud metadata service, not a webhook receiver. "
            "Give the receiver's own address."
        )
    literal = _address(host)
    if literal is not None:
        return (
            f"A link-local address is refused: {host} lies {why}. Give the receiver's own address."
            if _is_link_local(literal)
            else None
        )
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError as error:
        raise DestinationError(f"The address '{url}' has no usable port ({error}).") from None
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError) as error:
        raise DestinationError(f"The host '{host}' does not resolve ({error}): check the name.") from None
    bad = [address for address in addresses if (ip := _address(address)) is not None and _is_link_local(ip)]
    if not bad:
        return None
    return (
        f"A link-local address is refused: the host '{host}' resolves to {', '.join(bad)}, {why}. "
        "Give the receiver's own name or address."
    )
