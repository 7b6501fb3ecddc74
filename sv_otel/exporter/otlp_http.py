"""OTLP/HTTP exporter, binary protobuf (``http/protobuf``) or JSON (``http/json``).

Posts the request to ``.../v1/logs`` or ``.../v1/traces`` with ``httpx``, keeping the connection
alive. A 2xx is success (a ``partial_success`` is logged, not retried, as the specification says);
429/502/503/504 and network errors are retryable, honouring ``Retry-After``; every other status
is permanent.

``timeout`` bounds the whole export, from connecting to the last byte of the answer, as the
specification's ``OTEL_EXPORTER_OTLP_TIMEOUT`` does ("the maximum time the OTLP exporter will
wait for each batch export"): a backend that answers slowly, or without end, fails the export
as retryable when it runs out. Of an answer's body, at most :data:`MAX_RESPONSE_BYTES` are read
(the OTLP specification's recommended response size limit); the rest is dropped with the
connection.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import ssl
from collections.abc import Sequence
from typing import Final

import httpx
import msgspec
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from sv_otel.decompress import decode_body
from sv_otel.errors import InvalidBatchError, RetryableExportError
from sv_otel.event import Event
from sv_otel.exporter.answers import partial_success_warning
from sv_otel.exporter.encoding import (
    encode_json_request,
    encode_request,
    request_to_json,
)
from sv_otel.exporter.otlp_grpc import USER_AGENT
from sv_otel.exporter.otlp_settings import OTLPSettings, ResolvedOTLP, resolve_otlp
from sv_otel.exporter.retry import http_error
from sv_otel.otlp_json import decode_json

__all__ = ["MAX_RESPONSE_BYTES", "OTLPHttpExporter"]

MAX_RESPONSE_BYTES: Final = 4 * 1024 * 1024
"""The most bytes of an answer's body read."""

logger = logging.getLogger(__name__)

_CONTENT_TYPES = {"proto": "application/x-protobuf", "json": "application/json"}
_RESPONSES: dict[str, type[ExportLogsServiceResponse] | type[ExportTraceServiceResponse]] = {
    "logs": ExportLogsServiceResponse,
    "traces": ExportTraceServiceResponse,
}


class OTLPHttpExporter:
    """Exports one pipeline's events over OTLP/HTTP.

    Args:
        name: the component id (``otlphttp``, ``otlphttp/loki``).
        signal: ``logs`` or ``traces``.
        settings: the YAML settings (environment variables fill the gaps); ``encoding`` is
            ``proto`` or ``json``.
        transport: an httpx transport (tests); default a real connection pool.
    """

    def __init__(
        self,
        name: str,
        signal: str,
        settings: OTLPSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.name = name
        self.signal = signal
        self.encoding = settings.encoding
        self.resolved: ResolvedOTLP = resolve_otlp(settings, signal, http=True)
        headers = {
            "user-agent": USER_AGENT,
            # What _exchange decodes (httpx would offer br and zstd too when they are installed).
            "accept-encoding": "gzip, deflate",
            **self.resolved.headers,
            "content-type": _CONTENT_TYPES[self.encoding],
        }
        if self.resolved.compression == "gzip":
            headers["content-encoding"] = "gzip"
        self._client = httpx.AsyncClient(
            headers=headers,
            timeout=self.resolved.timeout,
            verify=_verify(self.resolved),
            transport=transport,
        )

    async def export(self, events: Sequence[Event]) -> None:
        """Post ``events`` once; raise a retryable or permanent export error."""
        if self.encoding == "json":
            await self._post(encode_json_request(events, self.signal), len(events))
        else:
            await self._post(encode_request(events, self.signal), len(events))

    async def export_request(self, request: bytes, count: int) -> None:
        """Post a ready ``Export*ServiceRequest`` of ``count`` records once."""
        if self.encoding == "json":
            request = request_to_json(request, self.signal)
        await self._post(request, count)

    async def _post(self, body: bytes, count: int) -> None:
        if self.resolved.compression == "gzip":
            body = gzip.compress(body, compresslevel=5)
        endpoint = self.resolved.endpoint
        try:
            response, content = await asyncio.wait_for(self._exchange(body), self.resolved.timeout)
        except httpx.HTTPError as error:
            raise RetryableExportError(f"{endpoint}: {error!r}") from None
        except asyncio.TimeoutError:
            raise RetryableExportError(
                f"{endpoint}: no complete answer within the timeout ({self.resolved.timeout:g} s)"
            ) from None
        if response.is_success:
            self._check_partial(response, content, count)
            return
        raise http_error(
            response.status_code,
            _status_message(response, content),
            response.headers.get("retry-after"),
        )

    async def _exchange(self, body: bytes) -> tuple[httpx.Response, bytes]:
        """Post ``body``; the answer and at most :data:`MAX_RESPONSE_BYTES` of its body.

        The bound holds for the bytes received and for the bytes they decompress to: the body is
        read raw and decoded here, within the bound (httpx would decode first and count after,
        and 64 KiB of gzip can hold 64 MiB). A body that cannot be decoded reads as empty.
        """
        async with self._client.stream("POST", self.resolved.endpoint, content=body) as response:
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_raw():
                chunks.append(chunk)
                size += len(chunk)
                if size >= MAX_RESPONSE_BYTES:
                    break
        raw = b"".join(chunks)[:MAX_RESPONSE_BYTES]
        try:
            content = decode_body(raw, response.headers.get("content-encoding"), MAX_RESPONSE_BYTES)
        except InvalidBatchError:  # corrupt, truncated, too large or an unknown encoding
            content = b""
        return response, content

    async def shutdown(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    def _check_partial(self, response: httpx.Response, content: bytes, total: int) -> None:
        if not content:
            return
        message_type = _RESPONSES[self.signal]
        parsed: ExportLogsServiceResponse | ExportTraceServiceResponse
        try:
            if "json" in response.headers.get("content-type", ""):
                parsed = decode_json(content, message_type)
            else:
                parsed = message_type.FromString(content)
        except Exception:  # an unreadable success body is still a success
            return
        warning = partial_success_warning(parsed, total)
        if warning is not None:
            logger.warning("%s: %s", self.name, warning)


def _status_message(response: httpx.Response, body: bytes) -> str:
    """The ``Status.message`` of an OTLP error body (protobuf or JSON), else its text."""
    content = body[:4096]
    if "json" in response.headers.get("content-type", ""):
        try:
            document = msgspec.json.decode(content)
        except msgspec.DecodeError:
            return content.decode("utf-8", "replace")
        if isinstance(document, dict) and isinstance(document.get("message"), str):
            return str(document["message"])
    elif "protobuf" in response.headers.get("content-type", ""):
        try:
            return str(Status.FromString(content).message)
        except Exception:
            return ""
    return content.decode("utf-8", "replace").strip()


def _verify(resolved: ResolvedOTLP) -> ssl.SSLContext | bool:
    if not resolved.endpoint.startswith("https://"):
        return True
    context = ssl.create_default_context(cafile=resolved.ca_file)
    if resolved.cert_file:
        context.load_cert_chain(resolved.cert_file, resolved.key_file)
    return context
