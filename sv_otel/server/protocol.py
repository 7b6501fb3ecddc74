"""uvicorn's HTTP/1.1 protocol with deadlines for slow clients and paths it answers itself.

:func:`http_protocol` returns a subclass of uvicorn's ``HttpToolsProtocol`` with three additions:

* **Header deadline.** uvicorn bounds only the idle time after a response; a client that
  connects and sends nothing, or trickles its headers (slow-loris), would hold the connection for
  ever. Once ``header_timeout`` seconds pass without complete headers (counted from the
  connection or from the previous response) the connection is closed, with a 408 answer if a
  request had begun (an idle keep-alive connection is closed silently, as browsers expect). The
  deadline is one timestamp per connection and one timer that re-arms itself, so a request costs
  no timer of its own.
* **Header size.** uvicorn (through httptools) buffers a request line and headers however long
  they grow, so a client that streams one endless header would fill memory before the deadline.
  Once more than :data:`MAX_HEADER_BYTES` arrive without the headers being complete, the answer
  is 431 and the connection is closed: first for writing, then, after :data:`_LINGER_SECONDS`
  in which what the client still sends is read and dropped, for good (closing at once, with its
  data unread, would reset the connection, and the client might never read the answer).
* **Direct routes.** ``POST`` and ``OPTIONS`` requests to a path in ``routes`` are answered by a
  :class:`~sv_otel.server.direct.DirectRoute` without ASGI: no scope, no task, no
  ``receive``/``send`` messages, one write per response (:mod:`sv_otel.server.direct` holds the
  contract and a request's life on such a route). Everything else (other paths and methods,
  upgrades, absolute-form targets) goes to the ASGI app as usual. Pipelined requests are
  answered in order: a request that arrives while an earlier one is unanswered waits in
  uvicorn's pipeline, whichever kind either is. The bytes written are the ones uvicorn would
  write for the same answer through ASGI (status line, uvicorn's default headers, the answer's
  headers, ``content-type``, ``content-length``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, ClassVar, Final, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from sv_otel.server.direct import Answer, DirectRoute, Exchange, PendingRequest, render_answer
from sv_otel.server.refusals import Refusal, closing_answer, json_refusal

if TYPE_CHECKING:
    from uvicorn._types import ASGI3Application

__all__ = ["MAX_HEADER_BYTES", "SvOtelHttpProtocol", "http_protocol"]

logger = logging.getLogger(__name__)

_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
MAX_HEADER_BYTES: Final = 64 * 1024
"""The most bytes of a request line and headers read before answering 431."""

_LINGER_SECONDS: Final = 1.0
"""How long a connection refused with 431 is still read (and its data dropped) before closing."""
_DIRECT_METHODS = (b"POST", b"OPTIONS")


_INTERNAL_ERROR: Final = Answer(
    500, b'{"status":500,"error":"internal_error","message":"server: internal error"}', {}
)
"""The answer when a direct route raises (the error is logged)."""


class SvOtelHttpProtocol(HttpToolsProtocol):
    """uvicorn's protocol with the additions of the module docstring; :func:`http_protocol`
    makes a subclass configured with its deadline, routes and answers."""

    _header_timeout: ClassVar[float] = 10.0
    _direct: ClassVar[Mapping[bytes, DirectRoute]] = {}
    _timeout_answer: ClassVar[bytes] = b""
    _too_large_answer: ClassVar[bytes] = b""

    _deadline: float | None = None  # when the wait for complete headers ends
    _timer: asyncio.TimerHandle | None = None
    _begun = False
    _head_bytes = 0  # received while the current request's headers are incomplete
    _refused = False  # answered 431: what still arrives is dropped

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(cast(asyncio.Transport, transport))
        self._wait_for_headers(self._header_timeout)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        self._begun = True
        waiting = self._deadline is not None
        super().data_received(data)
        if waiting and self._deadline is not None:  # still no complete headers
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEADER_BYTES and not self.transport.is_closing():
                self._refuse_headers()
        cycle = self.cycle
        if (
            type(cycle) is Exchange
            and cycle.request is not None
            and not cycle.complete
            and not cycle.response_complete
            and cycle.timer is None
        ):  # the body is still on its way: from now on it has request.timeout seconds
            cycle.timer = self.loop.call_later(cycle.request.timeout, self._body_timed_out, cycle)

    def connection_lost(self, exc: Exception | None) -> None:
        self._deadline = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        cycle = self.cycle
        if type(cycle) is Exchange:
            _cancel_timer(cycle)
            request = cycle.request
            if request is not None and not cycle.finishing and not cycle.response_complete:
                request.abandon()
        super().connection_lost(exc)

    def on_headers_complete(self) -> None:
        self._deadline = None
        direct = self._direct
        route = direct.get(self.url) if direct else None
        method = self.parser.get_method()
        if route is None or method not in _DIRECT_METHODS or self.parser.should_upgrade():
            super().on_headers_complete()
            return
        exchange = Exchange(route, method.decode("ascii"), self.headers)
        exchange.keep_alive = (
            self.parser.get_http_version() != "1.0" and self.parser.should_keep_alive()
        )
        exchange.expect_continue = self.expect_100_continue
        previous = self.cycle
        self.cycle = exchange
        if previous is not None and not previous.response_complete:
            # Pipelined behind an unanswered request: wait for its turn (_start_asgi_task).
            self.flow.pause_reading()
            self.pipeline.appendleft((exchange, self.app))
            return
        self._begin(exchange)

    def on_body(self, body: bytes) -> None:
        cycle = self.cycle
        if type(cycle) is not Exchange:
            super().on_body(body)
            return
        if cycle.response_complete:
            return
        cycle.chunks.append(body)
        cycle.size += len(body)
        if cycle.request is not None and cycle.size > cycle.request.max_bytes:
            self._respond(cycle, cycle.request.too_large())

    def on_message_complete(self) -> None:
        cycle = self.cycle
        if type(cycle) is not Exchange:
            super().on_message_complete()
            return
        cycle.complete = True
        if cycle.request is not None and not cycle.response_complete:
            self._finish(cycle)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._wait_for_headers(self._header_timeout)

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: ASGI3Application) -> None:
        if type(cycle) is Exchange:
            self._begin(cycle)
        else:
            super()._start_asgi_task(cycle, app)

    def _begin(self, exchange: Exchange) -> None:
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in exchange.request_headers}
        try:
            started = exchange.route.begin(exchange.method, headers)
        except Exception:
            logger.exception("%s: request failed", self.url.decode("latin-1"))
            started = _INTERNAL_ERROR
        if type(started) is Answer:
            self._respond(exchange, started)
            return
        request = cast(PendingRequest, started)
        exchange.request = request
        if exchange.size > request.max_bytes:  # a pipelined body read before its turn
            self._respond(exchange, request.too_large())
        elif exchange.complete:
            self._finish(exchange)
        elif exchange.expect_continue:
            self.transport.write(_CONTINUE)

    def _finish(self, exchange: Exchange) -> None:
        _cancel_timer(exchange)
        request = exchange.request
        assert request is not None
        chunks = exchange.chunks
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        exchange.chunks = []
        exchange.finishing = True

        def respond(answer: Answer) -> None:
            self._respond(exchange, answer)

        try:
            answer = request.finish(body, respond)
        except Exception:
            logger.exception("%s: request failed", self.url.decode("latin-1"))
            answer = _INTERNAL_ERROR
        if answer is not None:
            self._respond(exchange, answer)

    def _body_timed_out(self, exchange: Exchange) -> None:
        exchange.timer = None
        if exchange.request is not None and not exchange.response_complete:
            self._respond(exchange, exchange.request.timed_out())

    def _respond(self, exchange: Exchange, answer: Answer) -> None:
        if exchange.response_complete:
            return
        exchange.response_complete = True
        _cancel_timer(exchange)
        if exchange.disconnected or self.transport.is_closing():
            return
        response = render_answer(answer, self.server_state.default_headers, exchange.keep_alive)
        if response is None:  # a header value uvicorn refuses: it closes the connection
            self.transport.close()
            return
        self.transport.write(response)
        if not exchange.keep_alive:
            self.transport.close()
            return
        # uvicorn's on_response_complete, with the header deadline instead of its own
        # keep-alive timer (the shorter of the two bounds an idle connection).
        self.server_state.total_requests += 1
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
        else:
            self._wait_for_headers(min(self._header_timeout, self.timeout_keep_alive))

    def _refuse_headers(self) -> None:
        self._deadline = None
        self._refused = True
        transport = self.transport
        transport.write(self._too_large_answer)
        if transport.can_write_eof():
            transport.write_eof()
            self.loop.call_later(_LINGER_SECONDS, transport.close)
        else:  # TLS cannot half-close
            transport.close()

    def _wait_for_headers(self, timeout: float) -> None:
        self._begun = False
        self._head_bytes = 0
        self._deadline = self.loop.time() + timeout
        if self._timer is None:
            self._timer = self.loop.call_at(self._deadline, self._check_deadline)

    def _check_deadline(self) -> None:
        self._timer = None
        deadline = self._deadline
        if deadline is None or self.transport.is_closing():
            return
        if self.loop.time() < deadline:
            self._timer = self.loop.call_at(deadline, self._check_deadline)
            return
        self._deadline = None
        if self._begun:
            self.transport.write(self._timeout_answer)
        self.transport.close()


def http_protocol(
    header_timeout: float,
    routes: Mapping[str, DirectRoute] | None = None,
    refusal: Refusal = json_refusal,
) -> type[HttpToolsProtocol]:
    """uvicorn's protocol with a header deadline, a header size bound and direct ``routes``.

    Args:
        header_timeout: seconds a request's headers may take (then 408).
        routes: paths answered without ASGI (path to route).
        refusal: renders the body of the 408 and 431 answers (default: the gateway's JSON).
    """
    direct = {path.encode("ascii"): route for path, route in (routes or {}).items()}

    class Configured(SvOtelHttpProtocol):
        _header_timeout = header_timeout
        _direct = direct
        _timeout_answer = closing_answer(
            refusal,
            HTTPStatus.REQUEST_TIMEOUT,
            f"headers: not received within {header_timeout:g} seconds",
        )
        _too_large_answer = closing_answer(
            refusal,
            HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
            f"headers: over {MAX_HEADER_BYTES} bytes",
        )

    return Configured


def _cancel_timer(exchange: Exchange) -> None:
    if exchange.timer is not None:
        exchange.timer.cancel()
        exchange.timer = None
