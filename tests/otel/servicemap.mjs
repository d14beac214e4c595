// servicemap.mjs — five services, each its own node process with its own TracerProvider
// (resource service.name), BatchSpanProcessor and OTLP/HTTP exporter (JSON or protobuf), calling
// each other over real HTTP on 127.0.0.1 with the W3C traceparent, for
// tests/integration/t_servicemap_otel.sh:
//   node servicemap.mjs URL KEYID:SECRET REQUESTS CONCURRENCY
//
//   frontend  GET /checkout   -> catalog GET /products, then orders POST /orders
//   catalog   GET /products   every 10th request it serves answers 404 (an error, not a fault)
//   orders    POST /orders    -> inventory GET /stock, then payments POST /charge
//   inventory GET /stock      sleeps 150 ms (the slowed operation)
//   payments  POST /charge    a database client span (postgresql, db.name payments), then
//                             every 5th request it serves fails: a PaymentGatewayError
//                             exception, status ERROR and a 500
//
// Failures travel up as real services pass them on: orders answers 500 when payments did;
// frontend answers 502 when orders answered a 5xx; frontend shows a page without the
// catalog's suggestions when catalog answered 404 (frontend still answers 200). Client spans
// carry http.response.status_code and status ERROR for >= 400, server spans status ERROR for
// 5xx only (the HTTP semantic conventions). No peer.service is set: the callee is known only
// by pairing the client span with the server span its traceparent made.
//
// The parent process forks the five services (leaves first, each told its callees' URLs),
// sends REQUESTS requests to frontend, CONCURRENCY at a time, then has every service flush
// and shut its provider down, and prints one JSON line: the window, each request's trace id
// (frontend's traceresponse header) and status, and per service what it served, failed and
// exported. Exit status 0 when every export succeeded.
import http from 'node:http';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ROOT_CONTEXT, propagation, trace, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { Resource } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';

// Each service: its exporter's encoding, the route it serves and what serving it does (ctx:
// the server span's context; n: this service's count of requests, from 1; call(name): an
// instrumented HTTP call to a callee, resolving to its status). Answers {status, error}.
const SERVICES = {
    catalog: {
        mode: 'json', method: 'GET', route: '/products', calls: [],
        async serve({ n }) {
            await sleep(2);
            return n % 10 === 0 ? { status: 404 } : { status: 200 };
        },
    },
    inventory: {
        mode: 'proto', method: 'GET', route: '/stock', calls: [],
        async serve() {
            await sleep(150);
            return { status: 200 };
        },
    },
    payments: {
        mode: 'proto', method: 'POST', route: '/charge', calls: [],
        db: { span: 'INSERT payments', system: 'postgresql', name: 'payments' },
        async serve({ n, ctx, tracer }) {
            const db = tracer.startSpan(this.db.span, {
                kind: SpanKind.CLIENT,
                attributes: { 'db.system': this.db.system, 'db.name': this.db.name,
                              'db.operation.name': 'INSERT', 'db.collection.name': 'charges',
                              'server.address': 'db.internal', 'server.port': 5432 },
            }, ctx);
            await sleep(2);
            db.end();
            if (n % 5 === 0) {
                const e = new Error('card processor timed out');
                e.name = 'PaymentGatewayError';
                return { status: 500, error: e };
            }
            return { status: 200 };
        },
    },
    orders: {
        mode: 'proto', method: 'POST', route: '/orders', calls: ['inventory', 'payments'],
        async serve({ call }) {
            await sleep(1);
            await call('inventory');
            const paid = await call('payments');
            return paid >= 500 ? { status: 500, message: `payments answered ${paid}` }
                               : { status: 200 };
        },
    },
    frontend: {
        mode: 'json', method: 'GET', route: '/checkout', calls: ['catalog', 'orders'],
        async serve({ call }) {
            await sleep(1);
            await call('catalog');  // a 404 only leaves the suggestions out
            const ordered = await call('orders');
            return ordered >= 500 ? { status: 502, message: `orders answered ${ordered}` }
                                  : { status: 200 };
        },
    },
};
const START_ORDER = [['catalog', 'inventory', 'payments'], ['orders'], ['frontend']];

function sleep(ms) {
    return new Promise((r) => setTimeout(r, ms));
}

// ---- one service (a child process) --------------------------------------------------------

async function runService(name, url, key, callees) {
    const svc = SERVICES[name];
    const Exporter = svc.mode === 'json' ? JsonExporter : ProtoExporter;
    const exporter = new Exporter({ url, headers: { authorization: `Bearer ${key}` } });
    const exports = [];
    const send = exporter.export.bind(exporter);
    exporter.export = (spans, done) => send(spans, (r) => {
        exports.push({ code: r.code, n: spans.length,
                       error: r.error ? String(r.error.message || r.error) : null });
        done(r);
    });
    const provider = new BasicTracerProvider({
        resource: new Resource({ 'service.name': name,
                                 'service.instance.id': `${name}-${process.pid}`,
                                 'service.version': '1.4.2',
                                 'deployment.environment.name': 'test' }),
    });
    provider.addSpanProcessor(new BatchSpanProcessor(exporter, { scheduledDelayMillis: 500 }));
    const tracer = provider.getTracer(`shop-${name}`, '1.4.2');
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    const stats = { served: 0, errors: 0, faults: 0, spans: 0 };

    // an HTTP call to a callee under a client span, its context in the traceparent header
    async function call(ctx, callee) {
        const target = SERVICES[callee];
        const u = new URL(target.route, callees[callee]);
        const span = tracer.startSpan(target.method, {
            kind: SpanKind.CLIENT,
            attributes: { 'http.request.method': target.method, 'url.full': u.href,
                          'server.address': u.hostname, 'server.port': Number(u.port) },
        }, ctx);
        stats.spans++;
        const headers = {};
        propagation.inject(trace.setSpan(ctx, span), headers);
        let status;
        try {
            const r = await fetch(u, { method: target.method, headers });
            await r.text();
            status = r.status;
        } catch (e) {
            span.recordException(e);
            span.setStatus({ code: SpanStatusCode.ERROR, message: String(e.message) });
            span.end();
            throw e;
        }
        span.setAttribute('http.response.status_code', status);
        if (status >= 400) {
            span.setAttribute('error.type', String(status));
            span.setStatus({ code: SpanStatusCode.ERROR });
        }
        span.end();
        return status;
    }

    const server = http.createServer(async (req, res) => {
        const path = new URL(req.url, 'http://127.0.0.1').pathname;
        if (req.method !== svc.method || path !== svc.route) {
            res.writeHead(404);
            res.end();
            return;
        }
        const parent = propagation.extract(ROOT_CONTEXT, req.headers);
        const span = tracer.startSpan(`${svc.method} ${svc.route}`, {
            kind: SpanKind.SERVER,
            attributes: { 'http.request.method': svc.method, 'http.route': svc.route,
                          'url.path': path, 'url.scheme': 'http',
                          'server.address': '127.0.0.1', 'server.port': server.address().port,
                          'network.protocol.version': req.httpVersion,
                          'client.address': req.socket.remoteAddress },
        }, parent);
        stats.spans++;
        const ctx = trace.setSpan(parent, span);
        const n = ++stats.served;
        let out;
        try {
            out = await svc.serve({ n, ctx, tracer, call: (c) => call(ctx, c) });
        } catch (e) {
            out = { status: 500, error: e };
        }
        if (svc.db)
            stats.spans++;  // its database client span
        span.setAttribute('http.response.status_code', out.status);
        if (out.error)
            span.recordException(out.error);
        if (out.status >= 500) {
            stats.faults++;
            span.setAttribute('error.type', out.error ? out.error.name : String(out.status));
            span.setStatus({ code: SpanStatusCode.ERROR,
                             message: out.error ? out.error.message : out.message });
        } else if (out.status >= 400) {
            stats.errors++;
        }
        span.end();
        const sc = span.spanContext();
        res.writeHead(out.status, { 'content-type': 'text/plain',
                                    traceresponse: `00-${sc.traceId}-${sc.spanId}-01` });
        res.end(out.status < 400 ? 'ok\n' : 'failed\n');
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    // the parent gone (killed by the test's timeout, or failed): nothing is left running
    process.on('disconnect', () => process.exit(1));
    process.on('message', async (m) => {
        if (m.type !== 'flush')
            return;
        await provider.forceFlush();
        await provider.shutdown();
        server.close();
        process.send({ type: 'flushed', name, mode: svc.mode, ...stats, exports },
                     () => process.exit(0));
    });
    process.send({ type: 'ready', port: server.address().port });
}

// ---- the parent: start the services, send the load, flush ---------------------------------

function start(name, url, key, callees) {
    const child = fork(fileURLToPath(import.meta.url),
                       ['service', name, url, key, JSON.stringify(callees)],
                       { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    return new Promise((resolve, reject) => {
        child.once('message', (m) => resolve({ child, url: `http://127.0.0.1:${m.port}` }));
        child.once('exit', (code) => reject(new Error(`${name} exited ${code} before ready`)));
    });
}

function ask(child, type) {
    return new Promise((resolve) => {
        child.once('message', resolve);
        child.send({ type });
    });
}

async function main(url, key, requests, concurrency) {
    const running = {};
    for (const group of START_ORDER) {
        await Promise.all(group.map(async (name) => {
            const callees = Object.fromEntries(
                SERVICES[name].calls.map((c) => [c, running[c].url]));
            running[name] = await start(name, url, key, callees);
        }));
    }
    const startMs = Date.now();
    const results = new Array(requests);
    let next = 0;
    async function worker() {
        while (next < requests) {
            const i = next++;
            const r = await fetch(`${running.frontend.url}/checkout?order=${i}`);
            await r.text();
            const tr = (r.headers.get('traceresponse') || '').split('-');
            results[i] = { traceId: tr[1] || null, spanId: tr[2] || null, status: r.status };
        }
    }
    await Promise.all(Array.from({ length: concurrency }, worker));
    const endMs = Date.now();
    const services = {};
    for (const [name, r] of Object.entries(running)) {
        const m = await ask(r.child, 'flush');
        services[name] = { mode: m.mode, served: m.served, errors: m.errors, faults: m.faults,
                           spans: m.spans, exports: m.exports };
    }
    const calls = Object.fromEntries(Object.entries(SERVICES).map(([n, s]) => [n, s.calls]));
    const routes = Object.fromEntries(Object.entries(SERVICES).map(
        ([n, s]) => [n, `${s.method} ${s.route}`]));
    const databases = Object.fromEntries(Object.entries(SERVICES).filter(([, s]) => s.db).map(
        ([n, s]) => [n, s.db]));
    console.log(JSON.stringify({ startMs, endMs, requests: results, services, calls, routes,
                                 databases }));
    const ok = Object.values(services).every((s) => s.exports.length > 0 &&
                                                   s.exports.every((e) => e.code === 0));
    process.exit(ok ? 0 : 1);
}

const args = process.argv.slice(2);
if (args[0] === 'service') {
    await runService(args[1], args[2], args[3], JSON.parse(args[4]));
} else {
    const [url, key, requests, concurrency] = args;
    if (!url || !key || !(Number(requests) > 0) || !(Number(concurrency) > 0)) {
        console.error('usage: node servicemap.mjs URL KEYID:SECRET REQUESTS CONCURRENCY');
        process.exit(2);
    }
    await main(url, key, Number(requests), Number(concurrency));
}
