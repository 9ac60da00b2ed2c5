"""A TCP proxy that can make every open connection go silent: the bytes stop both ways,
no FIN, no RST, as when a NAT entry, a load balancer or a half-dead node drops a connection
without telling either end. Connections opened afterwards pass normally, unless the
freeze is told to hold them too (an apiserver unreachable whatever the client does).

    with FreezingProxy(("127.0.0.1", apiserver_port)) as proxy:
        ...  # point the client at proxy.port
        proxy.freeze()
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
from dataclasses import dataclass, field
from types import TracebackType

_CHUNK = 65536


@dataclass
class _Pair:
    client: socket.socket
    upstream: socket.socket
    frozen: threading.Event = field(default_factory=threading.Event)


class FreezingProxy:
    def __init__(self, target: tuple[str, int], host: str = "127.0.0.1", port: int = 0) -> None:
        self.target = target
        self._listener = socket.create_server((host, port))
        self.host, self.port = self._listener.getsockname()[:2]
        self._pairs: list[_Pair] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self.frozen_connections = 0
        self._hold_new = False
        self._held: list[socket.socket] = []
        self._acceptor = threading.Thread(target=self._accept, name="proxy-accept", daemon=True)
        self._acceptor.start()

    def freeze(self, *, new_too: bool = False) -> int:
        """Silence every connection open now (and, ``new_too``, every one opened later:
        accepted, never answered); return how many were open."""
        with self._lock:
            self._hold_new = self._hold_new or new_too
            live = [pair for pair in self._pairs if not pair.frozen.is_set()]
            for pair in live:
                pair.frozen.set()
            self.frozen_connections += len(live)
        return len(live)

    def open_connections(self) -> int:
        with self._lock:
            return sum(1 for pair in self._pairs if not pair.frozen.is_set())

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                if self._hold_new:
                    self._held.append(client)  # open, silent: closed with the proxy
                    self.frozen_connections += 1
                    continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            pair = _Pair(client, upstream)
            with self._lock:
                self._pairs.append(pair)
            threading.Thread(target=self._pump, args=(pair,), name="proxy-pump",
                             daemon=True).start()  # fmt: skip

    def _pump(self, pair: _Pair) -> None:
        peers = {pair.client: pair.upstream, pair.upstream: pair.client}
        with selectors.DefaultSelector() as selector:
            for end in peers:
                selector.register(end, selectors.EVENT_READ)
            while not self._closed.is_set():
                if pair.frozen.is_set():
                    # Silent from now on: hold both sockets open, read and send nothing.
                    self._closed.wait()
                    break
                for key, _ in selector.select(timeout=0.2):
                    if pair.frozen.is_set():
                        break
                    source = key.fileobj
                    assert isinstance(source, socket.socket)
                    try:
                        data = source.recv(_CHUNK)
                        if not data:
                            raise ConnectionError("closed")
                        peers[source].sendall(data)
                    except OSError:
                        self._drop(pair)
                        return
        self._drop(pair)

    def _drop(self, pair: _Pair) -> None:
        for end in (pair.client, pair.upstream):
            with contextlib.suppress(OSError):
                end.close()
        with self._lock, contextlib.suppress(ValueError):
            self._pairs.remove(pair)

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            pairs, held = list(self._pairs), list(self._held)
        for pair in pairs:
            self._drop(pair)
        for client in held:
            with contextlib.suppress(OSError):
                client.close()

    def __enter__(self) -> FreezingProxy:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
