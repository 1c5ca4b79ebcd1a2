"""The loopback listener both fault proxies start from (`faults.FaultProxy`, `tcp_cut.TcpCut`):
a socket on a free port of 127.0.0.1 and a thread that hands each connection to `_serve`."""

from __future__ import annotations

import socket
import threading

from tools.services import free_port


class Listener:
    """Accepts on `self.port` until `close()`; a subclass serves each connection (own thread)."""

    def __init__(self, name: str, backlog: int = 64):
        self._server = socket.socket()
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", free_port()))  # never a down service's port
        self._server.listen(backlog)
        self.port = int(self._server.getsockname()[1])
        self._lock = threading.Lock()
        self._closed = False
        self._name = name

    def start(self) -> None:
        threading.Thread(target=self._accept, name=self._name, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._closed = True
        try:
            self._server.close()
        except OSError:
            pass

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        raise NotImplementedError
