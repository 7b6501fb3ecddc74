// Sends one span or a few log records with the OTel JS SDK's own OTLP exporters.
// Usage: node send.mjs <traces|logs> <http|grpc> <endpoint> <session id>
// Prints the ids of what it sent as one JSON line.
import { SpanKind } from '@opentelemetry/api';
import { OTLPLogExporter as GrpcLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPLogExporter as HttpLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPTraceExporter as GrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as HttpTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';

const [signal, protocol, endpoint, sessionId] = process.argv.slice(2);
const resource = resourceFromAttributes({ 'service.name': 'web-frontend' });

async function sendTraces() {
  const exporter =
    protocol === 'grpc'
      ? new GrpcTraceExporter({ url: endpoint })
      : new HttpTraceExporter({ url: `${endpoint}/v1/traces` });
  const provider = new BasicTracerProvider({
    resource,
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer('shop');
  const span = tracer.startSpan('POST /checkout', {
    kind: SpanKind.CLIENT,
    startTime: [1709856000, 123000000],
    attributes: { 'session.id': sessionId, 'http.request.method': 'POST', 'http.response.status_code': 201 },
  });
  span.end([1709856000, 125500000]);
  await provider.forceFlush();
  await provider.shutdown();
  const context = span.spanContext();
  return { traceId: context.traceId, spanId: context.spanId };
}

async function sendLogs() {
  const exporter =
    protocol === 'grpc'
      ? new GrpcLogExporter({ url: endpoint })
      : new HttpLogExporter({ url: `${endpoint}/v1/logs` });
  const provider = new LoggerProvider({
    resource,
    processors: [new SimpleLogRecordProcessor({ exporter })],
  });
  const logger = provider.getLogger('shop');
  logger.emit({
    timestamp: [1709856000, 123000000],
    severityNumber: 13,
    severityText: 'WARN',
    body: 'slow checkout',
    attributes: { 'session.id': sessionId, 'user.id': 'user_456', 'http.route': '/checkout' },
  });
  logger.emit({
    timestamp: [1709856000, 200000000],
    eventName: 'checkout.viewed',
    attributes: { 'session.id': sessionId, items: 3, total: 49.5, express: true },
  });
  logger.emit({ timestamp: [1709856000, 300000000], body: 'no session' });
  await provider.forceFlush();
  await provider.shutdown();
  return {};
}

const ids = signal === 'traces' ? await sendTraces() : await sendLogs();
console.log(JSON.stringify(ids));
