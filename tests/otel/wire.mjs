// wire.mjs — one fixed set of telemetry of service "wire" made with the OpenTelemetry JS SDK
// (pinned in package-lock.json) and exported through its OTLP/HTTP protobuf exporters, then
// its JSON ones, to a capture endpoint of its own (node wire.mjs DIR). Each request is kept
// as DIR/<label>.<signal>.<n>.body with DIR/<...>.meta holding its Content-Type and
// Content-Encoding lines; label is js-proto or js-json. tests/integration/wire_compat.c makes
// the same telemetry with libowl and compares what owld decodes of both
// (t_client_wire.sh; docs/client.md "Wire compatibility"). Keep the two in step.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { trace, ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags }
    from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { Resource } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { LoggerProvider, BatchLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { OTLPTraceExporter as TraceJson } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as TraceProto } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPLogExporter as LogJson } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as LogProto } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPMetricExporter as MetricJson } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as MetricProto } from '@opentelemetry/exporter-metrics-otlp-proto';

const dir = process.argv[2];
if (!dir) {
    console.error('usage: node wire.mjs DIR');
    process.exit(2);
}

// the remote span the server span links to (the same ids in wire_compat.c)
const LINKED = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331',
                 traceFlags: TraceFlags.SAMPLED, isRemote: true };

// ---- the capture endpoint: /<label>/v1/<signal> bodies stored as they came ----
let seq = 0;
const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
        const [, label, , signal] = req.url.split('/');
        const base = path.join(dir, `${label}.${signal}.${seq++}`);
        fs.writeFileSync(`${base}.body`, Buffer.concat(chunks));
        fs.writeFileSync(`${base}.meta`, `${req.headers['content-type'] || ''}\n` +
                         `${req.headers['content-encoding'] || ''}\n`);
        const json = (req.headers['content-type'] || '').startsWith('application/json');
        res.writeHead(200, { 'Content-Type': json ? 'application/json'
                                                  : 'application/x-protobuf' });
        res.end(json ? '{}' : '');
    });
});
await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
const base = `http://127.0.0.1:${server.address().port}`;

// results of every export, checked at the end
const results = [];
function watched(exporter) {
    const send = exporter.export.bind(exporter);
    exporter.export = (items, done) => send(items, (r) => {
        results.push(r.code === 0 ? 0 : String(r.error && (r.error.message || r.error)));
        done(r);
    });
    return exporter;
}

async function emit(label, Traces, Logs, Metrics) {
    const url = (signal) => `${base}/${label}/v1/${signal}`;
    const resource = new Resource({ 'service.name': 'wire' });

    const tp = new BasicTracerProvider({ resource });
    const spans = new BatchSpanProcessor(watched(new Traces({ url: url('traces') })),
                                         { scheduledDelayMillis: 3600000 });
    tp.addSpanProcessor(spans);
    const lp = new LoggerProvider({ resource });
    const logs = new BatchLogRecordProcessor(watched(new Logs({ url: url('logs') })),
                                             { scheduledDelayMillis: 3600000 });
    lp.addLogRecordProcessor(logs);
    const reader = new PeriodicExportingMetricReader({
        exporter: watched(new Metrics({ url: url('metrics') })), exportIntervalMillis: 3600000 });
    const mp = new MeterProvider({ resource, readers: [reader] });

    const tracer = tp.getTracer('wire', '1.0.0');
    const logger = lp.getLogger('wire', '1.0.0');
    const meter = mp.getMeter('wire', '1.0.0');
    const under = (s) => trace.setSpan(ROOT_CONTEXT, s);

    logger.emit({ severityNumber: SeverityNumber.INFO, severityText: 'INFO',
                  body: 'wire started', context: ROOT_CONTEXT,
                  attributes: { 'app.version': '1.2.3', 'app.workers': 4, 'app.ratio': 0.75,
                                'app.debug': false } });

    const srv = tracer.startSpan('GET /orders/{id}', {
        kind: SpanKind.SERVER,
        attributes: { 'http.request.method': 'GET', 'http.route': '/orders/{id}',
                      'server.address': 'shop.example' },
        links: [{ context: LINKED }],
    }, ROOT_CONTEXT);
    srv.setAttributes({ 'order.id': 'o-42', 'order.items': 3, 'order.total': 12.5,
                        'order.express': true });
    srv.addEvent('cache.miss', { 'cache.key': 'order:42', 'cache.tier': 2, 'cache.hot': false,
                                 'cache.load': 0.5 });

    const cli = tracer.startSpan('GET', {
        kind: SpanKind.CLIENT,
        attributes: { 'http.request.method': 'GET', 'url.full': 'http://inventory:8080/stock/42' },
    }, under(srv));
    const inner = tracer.startSpan('parse stock', { kind: SpanKind.INTERNAL }, under(cli));
    inner.setAttribute('stock.count', 7);
    inner.end();
    cli.setAttribute('http.response.status_code', 200);
    cli.end();

    const pub = tracer.startSpan('orders publish', {
        kind: SpanKind.PRODUCER,
        attributes: { 'messaging.system': 'kafka', 'messaging.destination.name': 'orders' },
    }, under(srv));
    pub.end();

    srv.recordException({ name: 'TimeoutError', message: 'inventory timed out',
                          stack: 'TimeoutError: inventory timed out\n    at lookup (orders:42)' });
    logger.emit({ severityNumber: SeverityNumber.ERROR, severityText: 'ERROR',
                  body: 'order lookup failed', context: under(srv),
                  attributes: { 'order.id': 'o-42' } });
    srv.setStatus({ code: SpanStatusCode.ERROR, message: 'order lookup failed' });
    srv.end();

    const requests = meter.createCounter('wire.requests',
                                         { unit: '{request}', description: 'requests served' });
    requests.add(1, { route: '/a' });
    requests.add(2, { route: '/a' });
    requests.add(5, { route: '/b' });
    const queue = meter.createUpDownCounter('wire.queue', { unit: '{item}' });
    queue.add(10);
    queue.add(-3);
    meter.createGauge('wire.temperature', { unit: 'Cel' }).record(21.5);
    const latency = meter.createHistogram('wire.latency', {
        unit: 'ms', advice: { explicitBucketBoundaries: [5, 10, 25] } });
    for (const v of [3, 7, 7, 12, 30])
        latency.record(v);

    await spans.forceFlush();
    await logs.forceFlush();
    await reader.forceFlush();
    await Promise.all([tp.shutdown(), lp.shutdown()]);
    // no mp.shutdown(): it would export the same cumulative points a second time
}

// no context manager is registered: every parent is passed as a context
await emit('js-proto', TraceProto, LogProto, MetricProto);
await emit('js-json', TraceJson, LogJson, MetricJson);
server.close();
const failed = results.filter((r) => r !== 0);
console.log(JSON.stringify({ exports: results.length, failed }));
process.exit(results.length >= 6 && failed.length === 0 ? 0 : 1);
