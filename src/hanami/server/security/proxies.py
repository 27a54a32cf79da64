"""The client address of a request, trusting forwarded headers only from configured proxies.

uvicorn's own proxy handling is off: it trusts ``X-Forwarded-For`` from 127.0.0.1 by default,
so anyone on the host could pick the address the login limiter and the audit log see.
Here the peer address stands unless the peer is one of ``HANAMI_TRUSTED_PROXIES``; then the
configured header (``X-Forwarded-For`` or RFC 7239 ``Forwarded``) is read from the right,
skipping trusted proxies, and the first untrusted hop is the client. Only the one header the
proxy writes is read: a client could otherwise send the other one, which the proxy passes on
untouched.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import Literal

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["ClientAddressMiddleware", "ForwardedHeader", "IPNetwork", "client_host"]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
ForwardedHeader = Literal["x-forwarded-for", "forwarded"]


def _parse_hop(text: str) -> IPAddress | None:
    """An address from one hop (``1.2.3.4``, ``1.2.3.4:80``, ``[::1]:80``, ``"[::1]"``)."""
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _hops(header: ForwardedHeader, values: Iterable[str]) -> list[str]:
    """The hops of all header lines, left (client) to right (last proxy)."""
    hops = [hop for value in values for hop in value.split(",")]
    if header == "x-forwarded-for":
        return hops
    found = []
    for hop in hops:
        for pair in hop.split(";"):
            name, _, value = pair.partition("=")
            if name.strip().lower() == "for":
                found.append(value)
                break
        else:
            found.append("")  # a hop without "for": its client is unknown
    return found


def client_host(
    peer: str, headers: Iterable[tuple[bytes, bytes]], trusted: Sequence[IPNetwork],
    header: ForwardedHeader,
) -> str:  # fmt: skip
    """The address to account a request to: the right-most hop that is not a trusted proxy.

    A hop that is not an address (``unknown``, an obfuscated name) ends the walk at the
    proxy that wrote it.
    """
    current = _parse_hop(peer)
    if current is None or not any(current in net for net in trusted):
        return peer
    name = header.encode()
    values = [v.decode("latin-1") for k, v in headers if k == name]
    for hop in reversed(_hops(header, values)):
        address = _parse_hop(hop)
        if address is None:
            break
        current = address
        if not any(address in net for net in trusted):
            break
    return str(current)


class ClientAddressMiddleware:
    """Puts the client address (see :func:`client_host`) into ``scope["client"]``, so that
    ``request.client``, the access log and the audit log all see the same address."""

    def __init__(
        self, app: ASGIApp, *, trusted: Sequence[IPNetwork], header: ForwardedHeader
    ) -> None:
        self.app = app
        self.trusted = tuple(trusted)
        self.header = header

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if self.trusted and client and scope["type"] in ("http", "websocket"):
            host = client_host(client[0], scope["headers"], self.trusted, self.header)
            if host != client[0]:
                scope["client"] = (host, 0)
        await self.app(scope, receive, send)
