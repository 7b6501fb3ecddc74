"""Hostile HTTP clients on raw sockets: headers that never end, or never come."""

from __future__ import annotations

import select
import socket

from google.rpc.status_pb2 import Status

from sv_otel.otlp_json import decode_json


def answer(sock: socket.socket) -> tuple[bytes, bytes]:
    """Read a whole answer until the server closes: its head and its body."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head, body


def endless_headers(port: int, path: str = "/v1/logs") -> tuple[bytes, bytes, int]:
    """Stream one endless header value until the server answers (at most 64 MiB).

    Returns:
        The answer's head and body, and the bytes of header value sent.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Endless: " % path.encode())
        sent = 0
        try:
            while sent < 64 << 20 and not select.select([sock], [], [], 0.001)[0]:
                sock.sendall(b"a" * 65536)
                sent += 65536
        except OSError:
            pass  # the server closed before this client noticed its answer
        head, body = answer(sock)
    return head, body, sent


def response(sock: socket.socket) -> tuple[bytes, bytes]:
    """Read one answer on a kept-alive connection (by its ``Content-Length``): head and body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before an answer's head: {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.partition(b":")[2])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the end of an answer's body")
        body += chunk
    return head, body


def status(body: bytes) -> Status:
    """The ``google.rpc.Status`` of an error body, in JSON or protobuf."""
    if body.startswith(b"{"):
        return decode_json(body, Status)
    parsed = Status()
    parsed.ParseFromString(body)
    return parsed
