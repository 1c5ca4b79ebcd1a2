"""A TCP forwarder that can be cut: PostgreSQL made unreachable for the services without
stopping the machine's server (it is shared with other sessions and must stay up).

The services' database URLs point at `TcpCut.port`; each connection is piped to the real
server by two threads. `cut()` resets every open connection on both sides (SO_LINGER 0:
the services see a dead connection at once, as when the server is killed, not a clean close
they might take for a finished query) and resets every new one as soon as it is accepted,
so connecting fails fast too (libpq: "server closed the connection unexpectedly"), like a
server that is gone. `restore()` forwards new connections again; the old ones stay dead,
so the services must notice and reconnect (`pool_pre_ping`, their retries).
"""

from __future__ import annotations

import socket
import struct
import threading
from typing import Set, Tuple

from tests.chaos.listener import Listener

_LINGER_ZERO = struct.pack("ii", 1, 0)  # close() sends RST instead of FIN


def reset(sock: socket.socket) -> None:
    """Closes `sock` with a reset, never raising. `shutdown(SHUT_RD)` first wakes the pump
    thread blocked in `recv` on it (on Linux a bare `close()` does not, and the blocked call
    would keep the connection alive); it sends nothing, so the peer sees only the RST."""
    for step in (
        lambda: sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ZERO),
        lambda: sock.shutdown(socket.SHUT_RD),
        sock.close,
    ):
        try:
            step()
        except OSError:
            pass


class TcpCut(Listener):
    """Forwards 127.0.0.1:<port> to `upstream` until `cut()`; see the module docstring."""

    def __init__(self, upstream: Tuple[str, int] = ("127.0.0.1", 5432)):
        super().__init__("tcp-cut", backlog=128)
        self.upstream = upstream
        self._open: Set[socket.socket] = set()
        self._is_cut = False
        self.refused = 0  # connections reset at accept while cut (the services kept trying)
        self.start()

    @property
    def is_cut(self) -> bool:
        return self._is_cut

    def cut(self) -> int:
        """Resets every open connection and refuses new ones; returns how many were open."""
        with self._lock:
            self._is_cut = True
            victims, self._open = self._open, set()
        for sock in victims:
            reset(sock)
        return len(victims) // 2

    def restore(self) -> None:
        """Forwards new connections again."""
        with self._lock:
            self._is_cut = False

    def close(self) -> None:
        self.cut()
        super().close()

    def _serve(self, client: socket.socket) -> None:
        if self._is_cut:
            self.refused += 1
            reset(client)
            return
        try:
            upstream = socket.create_connection(self.upstream, timeout=5)
        except OSError:
            reset(client)
            return
        upstream.settimeout(None)
        with self._lock:  # a cut between accept and here must reach this pair too
            if self._is_cut:
                reset(upstream)
                reset(client)
                return
            self._open.update((client, upstream))
        threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()
        self._pump(client, upstream)

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open.discard(source)
                self._open.discard(sink)
            for sock in (source, sink):  # one side ended: so does the other (reset or not, already)
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                try:
                    sock.close()
                except OSError:
                    pass
