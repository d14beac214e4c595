// traces.mjs — the OpenTelemetry JS SDK's trace exporters (OTLP/HTTP JSON or protobuf) in two
// small HTTP services on loopback, for tests/integration/t_otel_traces.sh:
//   node traces.mjs URL KEYID:SECRET json|proto
// "frontend" serves GET /checkout: a server span, then a client span calling "orders" with
// fetch, the W3C traceparent injected by the SDK's propagator; "orders" extracts it and
// serves the call as a server span with an internal child, a database client span
// (db.system, db.name), an event, a link and, for /checkout?fail=1, an exception and a 500
// (a fault). Each service has its own provider (resource service.name) and exporter. Two
// requests are made, the providers flushed, and one JSON line printed: the trace ids, their
// span counts and the export results.
import http from 'node:http';
import { context, propagation, trace, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { Resource } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';

const [url, key, mode] = process.argv.slice(2);
if (!url || !key || !['json', 'proto'].includes(mode)) {
    console.error('usage: node traces.mjs URL KEYID:SECRET json|proto');
    process.exit(2);
}
propagation.setGlobalPropagator(new W3CTraceContextPropagator());
const Exporter = mode === 'json' ? JsonExporter : ProtoExporter;
const results = [];
function provider(service) {
    const exporter = new Exporter({ url, headers: { authorization: `Bearer ${key}` } });
    const send = exporter.export.bind(exporter);
    exporter.export = (spans, done) => send(spans, (r) => {
        results.push({ service, code: r.code, n: spans.length,
                       error: r.error ? String(r.error.message || r.error) : null });
        done(r);
    });
    const p = new BasicTracerProvider({
        resource: new Resource({ 'service.name': service, 'service.instance.id': `${service}-1`,
                                 'telemetry.sdk.language': 'nodejs' }),
    });
    p.addSpanProcessor(new SimpleSpanProcessor(exporter));
    return p;
}
const frontP = provider(`front-${mode}`), ordersP = provider(`orders-${mode}`);
const front = frontP.getTracer('front', '1.0.0'), orders = ordersP.getTracer('orders', '1.0.0');

function listen(handler) {
    return new Promise((resolve) => {
        const srv = http.createServer(handler);
        srv.listen(0, '127.0.0.1', () => resolve(srv));
    });
}

// orders: extracts the caller's context from the headers
const ordersSrv = await listen(async (req, res) => {
    const parent = propagation.extract(context.active(), req.headers);
    const fail = req.url.includes('fail=1');
    const span = orders.startSpan('GET /orders', {
        kind: SpanKind.SERVER,
        attributes: { 'http.request.method': 'GET', 'http.route': '/orders',
                      'url.full': `http://127.0.0.1${req.url}` },
        links: [{ context: { traceId: '0af7651916cd43dd8448eb211c80319c',
                             spanId: 'b7ad6b7169203331', traceFlags: 1 },
                  attributes: { 'link.reason': 'batch' } }],
    }, parent);
    const ctx = trace.setSpan(parent, span);
    const work = orders.startSpan('load-cart', { kind: SpanKind.INTERNAL }, ctx);
    const db = orders.startSpan('SELECT carts', {
        kind: SpanKind.CLIENT,
        attributes: { 'db.system': 'postgresql', 'db.name': 'shop' },
    }, trace.setSpan(ctx, work));
    await new Promise((r) => setTimeout(r, 3));
    db.end();
    work.addEvent('cart loaded', { items: 3 });
    work.end();
    if (fail) {
        span.recordException(new Error('inventory unavailable'));
        span.setStatus({ code: SpanStatusCode.ERROR, message: 'inventory unavailable' });
    }
    span.setAttribute('http.response.status_code', fail ? 500 : 200);
    span.end();
    res.writeHead(fail ? 500 : 200, { 'content-type': 'text/plain' });
    res.end(fail ? 'no' : 'ok');
});
const ordersUrl = `http://127.0.0.1:${ordersSrv.address().port}`;

// frontend: a server span, a client span around the call, traceparent injected
const frontSrv = await listen(async (req, res) => {
    const fail = req.url.includes('fail=1');
    const span = front.startSpan('GET /checkout', {
        kind: SpanKind.SERVER,
        attributes: { 'http.request.method': 'GET', 'http.route': '/checkout' },
    });
    const ctx = trace.setSpan(context.active(), span);
    const call = front.startSpan('GET', {
        kind: SpanKind.CLIENT,
        attributes: { 'http.request.method': 'GET', 'peer.service': `orders-${mode}`,
                      'url.full': `${ordersUrl}/orders${fail ? '?fail=1' : ''}` },
    }, ctx);
    const headers = {};
    propagation.inject(trace.setSpan(ctx, call), headers);
    const r = await fetch(`${ordersUrl}/orders${fail ? '?fail=1' : ''}`, { headers });
    await r.text();
    call.setAttribute('http.response.status_code', r.status);
    if (r.status >= 500)
        call.setStatus({ code: SpanStatusCode.ERROR });
    call.end();
    span.setAttribute('http.response.status_code', r.status >= 500 ? 502 : 200);
    span.end();
    res.writeHead(r.status >= 500 ? 502 : 200);
    res.end();
    traces.push({ traceId: span.spanContext().traceId, fail, traceparent: headers.traceparent });
});
const traces = [];
const frontUrl = `http://127.0.0.1:${frontSrv.address().port}`;
for (const q of ['', '?fail=1'])
    await (await fetch(`${frontUrl}/checkout${q}`)).text();
await frontP.forceFlush();
await ordersP.forceFlush();
frontSrv.close();
ordersSrv.close();
console.log(JSON.stringify({ traces, exports: results }));
process.exit(results.length > 0 && results.every((r) => r.code === 0) ? 0 : 1);
