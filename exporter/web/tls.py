"""TLS for the server, from the web config.

The TLS handshake is driven without blocking by the server's selector
(exporter/web/httpd.py), never in a thread that others wait for.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import ssl
from typing import Any

from cheroot.makefile import MakeFile

from exporter.web.config import WebConfig, ssl_context

log = logging.getLogger(__name__)


class TLSAdapter:
    """TLS for the cheroot server (exporter/web/httpd.py), from our own SSLContext.

    cheroot's builtin adapter handshakes inside its accept loop, so one silent
    client would hold every other one up. Here `wrap` only wraps; the server's
    selector drives `handshake` on the non-blocking socket as bytes arrive, and
    then checks client_allowed_sans.
    """

    def __init__(self, context: ssl.SSLContext, allowed_sans: tuple[str, ...] = ()) -> None:
        self.context = context
        self.allowed_sans = allowed_sans

    def bind(self, sock: socket.socket) -> socket.socket:
        return sock

    def wrap(self, sock: socket.socket) -> tuple[ssl.SSLSocket, dict[str, str]]:
        return self.context.wrap_socket(
            sock, server_side=True, do_handshake_on_connect=False), {}

    def makefile(self, sock: socket.socket, mode: str = "r", bufsize: int = -1) -> Any:
        return MakeFile(sock, mode, bufsize)

    def get_environ(self, sock: ssl.SSLSocket) -> dict[str, str]:
        cipher = sock.cipher()
        return {"HTTPS": "on", "SSL_PROTOCOL": sock.version() or "",
                "SSL_CIPHER": cipher[0] if cipher else ""}

    def handshake(self, sock: ssl.SSLSocket) -> dict[str, str] | None:
        """Advance the handshake: the TLS environ once done, None when the client
        certificate's SAN is not allowed. Raises ssl.SSLWantReadError while it needs
        more bytes, another OSError when it failed."""
        sock.do_handshake()
        if not _san_allowed(sock.getpeercert(), self.allowed_sans):
            log.info("client certificate SAN not allowed",
                     extra={"kv": {"client": str(sock.getpeername()[0])}})
            return None
        return self.get_environ(sock)


def _san_allowed(cert: dict[str, Any] | None, allowed: tuple[str, ...]) -> bool:
    if not allowed:
        return True
    wanted = {_normal(a) for a in allowed}
    return any(_normal(value) in wanted for _, value in (cert or {}).get("subjectAltName", ()))


def _normal(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return value


def tls_adapter(cfg: WebConfig) -> TLSAdapter | None:
    """The server's TLS per `cfg`, or None (plain HTTP). Raises WebConfigError."""
    ctx = ssl_context(cfg)
    if ctx is None:
        return None
    return TLSAdapter(ctx, cfg.tls.client_allowed_sans if cfg.tls else ())
