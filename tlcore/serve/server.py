"""`python -m tlcore serve RUN`: the service on a socket of this machine (127.0.0.1 unless told
otherwise), one line saying where, until Ctrl+C."""
from __future__ import annotations

import ipaddress
import socket
import sys
from pathlib import Path

from ..core.device import resolve_device
from ..core.errors import ConfigError
from .api import create_app


def listening_socket(host: str, port: int) -> socket.socket:
    """A bound socket for host:port (port 0: any free one); ConfigError says why there is none."""
    if not 0 <= port <= 65535:
        raise ConfigError(f"The port must be 0 to 65535, not {port}. Choose another with --port, e.g. --port 8000.")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise ConfigError(f"There is no address '{host}' on this machine ({exc}). "
                          "Give one with --host, e.g. --host 127.0.0.1.") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"Cannot listen on {host} port {port} ({exc.strerror or exc}). Choose another port "
                          "with --port, or stop the program that uses it.") from None
    return sock


def url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


def serve(run: str | Path, *, host: str = "127.0.0.1", port: int = 8000, device: str = "auto") -> int:
    """Serve a saved run until interrupted, on `device` (auto: a GPU when there is one); a RUN that is
    not one raises RunLoadError."""
    import uvicorn

    with listening_socket(host, port) as sock:
        app = create_app(run, device=resolve_device(device))
        sock.listen(128)  # before the line below, so a client that reads it can connect at once
        address = url(sock)
        print(f"Serving {Path(run).name} at {address} (API docs at {address}/docs). Press Ctrl+C to stop.", flush=True)
        if not ipaddress.ip_address(sock.getsockname()[0]).is_loopback:
            print(f"Note: anyone who can reach this machine on port {sock.getsockname()[1]} can use the model; "
                  "the service has no passwords. Leave out --host to serve this machine only.",
                  file=sys.stderr, flush=True)
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
        try:
            server.run(sockets=[sock])
        except KeyboardInterrupt:  # uvicorn stops gracefully on Ctrl+C, then raises it again
            pass
    return 0
