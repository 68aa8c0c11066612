"""A fault-injecting TCP proxy between the storage and the real S3 server.

Each connection carries one request: the proxy adds `Connection: close` before relaying, so it sees
every request head and can, per request, relay it, reset the connection part-way through the request
or response body, corrupt one byte of the request body on its way (as a faulty link or middlebox would),
answer by itself (e.g. 503 with Retry-After) after reading the request body, let the server act on the
request and then answer with an error instead of the server's answer, never answer (a black hole), or
relay the server's answer a few bytes at a time (a trickle).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RequestHead:
    method: str
    target: str
    headers: dict[str, str]  # lower-cased names

    @property
    def length(self) -> int:
        return int(self.headers.get("content-length", "0"))


@dataclass(frozen=True)
class Relay:
    """Pass the request through; with `cut_request_after` / `cut_response_after`, reset the connection after
    that many body bytes of the request / response bytes have been relayed; with `flip_request_byte_at`, invert
    the bits of the request body's byte at that offset on the way (same length, so only a check of the content
    can tell)."""

    cut_request_after: int | None = None
    cut_response_after: int | None = None
    flip_request_byte_at: int | None = None


@dataclass(frozen=True)
class Respond:
    """Answer without asking the server."""

    status: int
    reason: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class RelayThenRespond:
    """Relay the request so the server carries it out, read the server's whole answer, then send `respond`
    instead of it: the client sees a failure although the server acted (e.g. a 500 after a stored PUT)."""

    respond: Respond


@dataclass(frozen=True)
class BlackHole:
    """Read the request and never answer; the connection stays open until the client gives up."""


@dataclass(frozen=True)
class Trickle:
    """Relay the request, then relay the server's answer `size` bytes (default one) every `interval` seconds."""

    interval: float = 0.5
    size: int = 1


Action = Relay | Respond | RelayThenRespond | BlackHole | Trickle
Decide = Callable[[RequestHead], Action]


def s3_error(status: int, reason: str, code: str, *, retry_after: str | None = None) -> Respond:
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>injected</Message></Error>'
    headers = {"Content-Type": "application/xml"}
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    return Respond(status, reason, headers, body.encode())


class FaultProxy:
    """Listens on a free loopback port; `decide` picks what happens to each request."""

    def __init__(self, upstream: str, decide: Decide | None = None) -> None:
        host, port = upstream.rsplit(":", 1)
        self._upstream = (host, int(port))
        self.decide: Decide = decide or (lambda head: Relay())
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.endpoint = f"127.0.0.1:{self._listener.getsockname()[1]}"
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self.requests: list[RequestHead] = []
        self.bytes_to_client = 0
        self.resets = 0
        self._closed = False
        self._start(self._accept_loop)

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self._listener.close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            _close(sock)
        for thread in self._threads:
            thread.join(timeout=5)

    def _start(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _track(self, sock: socket.socket) -> socket.socket:
        with self._lock:
            self._sockets.add(sock)
        return sock

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self._start(self._serve, self._track(client))

    def _serve(self, client: socket.socket) -> None:
        try:
            head, rest = _read_head(client)
            if head is None:
                return
            request = _parse_head(head)
            with self._lock:
                self.requests.append(request)
            action = self.decide(request)
            if isinstance(action, Respond):
                _drain(client, request.length - len(rest))
                self._respond(client, action)
                return
            if isinstance(action, BlackHole):
                _drain(client, request.length - len(rest))
                while not self._closed and client.recv(65536):
                    pass  # until the client closes (or the proxy stops)
                return
            if isinstance(action, RelayThenRespond | Trickle):
                answer = self._exchange(head, client, request.length - len(rest), rest)
                if isinstance(action, RelayThenRespond):
                    self._respond(client, action.respond)
                else:
                    self._trickle(client, answer, action.interval, action.size)
                return
            upstream = self._track(socket.create_connection(self._upstream, timeout=30))
            upstream.sendall(_with_connection_close(head))
            pump = threading.Thread(target=self._pump_response, args=(upstream, client, action), daemon=True)
            pump.start()
            self._pump_request(client, upstream, rest, action)
            pump.join(timeout=60)
        except OSError:
            pass
        finally:
            _close(client)

    def _pump_request(self, client: socket.socket, upstream: socket.socket, rest: bytes, action: Relay) -> None:
        sent = 0
        data = rest
        while True:
            if data:
                flip = action.flip_request_byte_at
                if flip is not None and sent <= flip < sent + len(data):
                    corrupted = bytearray(data)
                    corrupted[flip - sent] ^= 0xFF
                    data = bytes(corrupted)
                if action.cut_request_after is not None and sent + len(data) >= action.cut_request_after:
                    upstream.sendall(data[: max(0, action.cut_request_after - sent)])
                    self._reset(client, upstream)
                    return
                upstream.sendall(data)
                sent += len(data)
            data = client.recv(256 * 1024)
            if not data:
                return

    def _pump_response(self, upstream: socket.socket, client: socket.socket, action: Relay) -> None:
        relayed = 0
        try:
            while True:
                data = upstream.recv(256 * 1024)
                if not data:
                    break
                if action.cut_response_after is not None and relayed + len(data) >= action.cut_response_after:
                    client.sendall(data[: max(0, action.cut_response_after - relayed)])
                    self._reset(client, upstream)
                    return
                client.sendall(data)
                relayed += len(data)
                with self._lock:
                    self.bytes_to_client += len(data)
            client.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        finally:
            _close(upstream)

    def _exchange(self, head: bytes, client: socket.socket, remaining: int, rest: bytes) -> bytes:
        """Send the whole request upstream and return the server's whole answer (it closes: Connection: close)."""
        upstream = self._track(socket.create_connection(self._upstream, timeout=30))
        try:
            upstream.sendall(_with_connection_close(head) + rest)
            while remaining > 0:
                chunk = client.recv(min(remaining, 256 * 1024))
                if not chunk:
                    break
                upstream.sendall(chunk)
                remaining -= len(chunk)
            answer = b""
            while chunk := upstream.recv(256 * 1024):
                answer += chunk
            return answer
        finally:
            _close(upstream)

    def _trickle(self, client: socket.socket, answer: bytes, interval: float, size: int) -> None:
        for index in range(0, len(answer), size):
            if self._closed:
                return
            piece = answer[index : index + size]
            client.sendall(piece)
            with self._lock:
                self.bytes_to_client += len(piece)
            time.sleep(interval)

    def _respond(self, client: socket.socket, action: Respond) -> None:
        lines = [f"HTTP/1.1 {action.status} {action.reason}", f"Content-Length: {len(action.body)}"]
        lines.append("Connection: close")
        lines += [f"{name}: {value}" for name, value in action.headers.items()]
        client.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        client.sendall(action.body)  # not joined to the head: a huge body is sent without a copy

    def _reset(self, client: socket.socket, upstream: socket.socket) -> None:
        """RST to the client (as a crashed server or middlebox would send); the server side just closes."""
        with self._lock:
            self.resets += 1
        with contextlib.suppress(OSError):
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        _close(client)  # shutdown() first, or a recv() blocked in the other pump would keep the socket open
        _close(upstream)


def _read_head(sock: socket.socket) -> tuple[bytes | None, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None, b""
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head + b"\r\n\r\n", rest


def _parse_head(head: bytes) -> RequestHead:
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return RequestHead(method, target, headers)


def _with_connection_close(head: bytes) -> bytes:
    lines = [line for line in head[:-4].split(b"\r\n") if not line.lower().startswith(b"connection:")]
    return b"\r\n".join([*lines, b"Connection: close"]) + b"\r\n\r\n"


def _drain(sock: socket.socket, remaining: int) -> None:
    while remaining > 0:
        chunk = sock.recv(min(remaining, 256 * 1024))
        if not chunk:
            return
        remaining -= len(chunk)


def _close(sock: socket.socket) -> None:
    """Shut down first: that wakes a thread blocked in recv() on the socket, close() alone does not."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
