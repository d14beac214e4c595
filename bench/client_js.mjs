// client_js.mjs — the OpenTelemetry JS SDK's side of bench/client.sh, with the packages
// tests/otel/package-lock.json pins (sdk-trace-base 1.30.1, exporter-trace-otlp-proto 0.57.2),
// loaded from OTEL_DIR/node_modules:
//   node client_js.mjs OTEL_DIR unsampled N RUNS URL KEY
//   node client_js.mjs OTEL_DIR sampled N CHUNK RUNS URL KEY
//   node client_js.mjs OTEL_DIR export M SERVICE URL KEY
// As bench/client_spans.c does for libowl: a BasicTracerProvider (AlwaysOff / AlwaysOn) with a
// BatchSpanProcessor (queue 2,048, batch 512) over the OTLP/HTTP protobuf exporter to owld
// (URL: its base; uncompressed, the default of both, as libowl sends). unsampled/sampled time N startSpan + end a run
// (process.hrtime.bigint), sampled in chunks of CHUNK with an awaited forceFlush between
// (untimed); export ends M spans in traces of 1,000 under a remote parent, the queue holding M,
// then awaits shutdown. Prints "version=", then "run_ns=" and "proc_ns=" (the process's CPU a span,
// process.cpuUsage: every thread, the flushes included) per run, or t0_ns / ended_ns /
// done_ns / dropped (spans the processor or a failed export lost).
import { createRequire } from 'node:module';

const [dir, mode, ...rest] = process.argv.slice(2);
const require = createRequire(`${dir}/package.json`);
const api = require('@opentelemetry/api');
const { Resource } = require('@opentelemetry/resources');
const sdk = require('@opentelemetry/sdk-trace-base');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto');
const TRACE_SPANS = 1000;

function setup(sampler, url, key, service, queue) {
    // concurrencyLimit (default 30 requests in flight): at least the batches a queue of M
    // splits into, or the shutdown's flush of them all at once is refused past the 30th
    const exporter = new OTLPTraceExporter({
        url: `${url}/v1/traces`, compression: 'none', headers: { authorization: `Bearer ${key}` },
        concurrencyLimit: queue ? Math.ceil(queue / 512) + 1 : 30 });
    const failed = { n: 0 };
    const send = exporter.export.bind(exporter);
    exporter.export = (spans, done) => send(spans, (r) => {
        if (r.code !== 0)
            failed.n += spans.length;
        done(r);
    });
    const bsp = new sdk.BatchSpanProcessor(exporter, queue ? { maxQueueSize: queue } : {});
    const provider = new sdk.BasicTracerProvider({
        sampler, resource: new Resource({ 'service.name': service }),
    });
    provider.addSpanProcessor(bsp);
    return { provider, bsp, failed, tracer: provider.getTracer('bench') };
}

// n spans started and ended, awaiting a flush (untimed) after each chunk; the ns they took
async function spans(t, n, chunk) {
    let spent = 0n;
    for (let done = 0; done < n;) {
        const k = Math.min(chunk, n - done);
        const t0 = process.hrtime.bigint();
        for (let i = 0; i < k; i++)
            t.tracer.startSpan('bench').end();
        spent += process.hrtime.bigint() - t0;
        done += k;
        if (done < n)
            await t.provider.forceFlush();
    }
    return spent;
}

async function timed(sampler, n, chunk, runs, url, key) {
    const t = setup(sampler, url, key, 'bench-client-js');
    await spans(t, Math.min(chunk, Math.floor(n / 10)), chunk);
    await t.provider.forceFlush();
    for (let r = 0; r < runs; r++) {
        const p0 = process.cpuUsage();
        const ns = await spans(t, n, chunk);
        await t.provider.forceFlush();
        const p = process.cpuUsage(p0); // microseconds, every thread of the process
        console.log(`run_ns=${(Number(ns) / n).toFixed(1)}`);
        console.log(`proc_ns=${((p.user + p.system) * 1000 / n).toFixed(1)}`);
    }
    await t.provider.shutdown();
    console.log(`dropped=${t.failed.n}`);
}

async function exportAll(m, service, url, key) {
    const t = setup(new sdk.AlwaysOnSampler(), url, key, service, m);
    const prefix = Math.floor(Math.random() * 0xffffffff).toString(16).padStart(8, '0') + 'b0c4b0c4';
    let parent;
    const t0 = process.hrtime.bigint(), wall0 = BigInt(Date.now()) * 1000000n;
    for (let i = 0; i < m; i++) {
        if (i % TRACE_SPANS === 0) {
            const traceId = prefix + (i / TRACE_SPANS).toString(16).padStart(16, '0');
            parent = api.trace.setSpanContext(api.ROOT_CONTEXT, {
                traceId, spanId: '0b0e0c0400000001', traceFlags: api.TraceFlags.SAMPLED,
                isRemote: true });
        }
        t.tracer.startSpan('bench', { kind: api.SpanKind.INTERNAL }, parent).end();
    }
    const ended = process.hrtime.bigint();
    const lost = t.bsp._droppedSpansCount;  // the processor's own count (queue full)
    await t.provider.shutdown();
    const done = process.hrtime.bigint();
    console.log(`t0_ns=${wall0}\nended_ns=${wall0 + ended - t0}\ndone_ns=${wall0 + done - t0}`);
    console.log(`dropped=${lost + t.failed.n}`);
}

const pkg = require('@opentelemetry/sdk-trace-base/package.json');
console.log(`version=${pkg.version}`);
const num = (s) => parseInt(s, 10);
if (mode === 'unsampled' && rest.length === 4)
    await timed(new sdk.AlwaysOffSampler(), num(rest[0]), num(rest[0]), num(rest[1]), rest[2], rest[3]);
else if (mode === 'sampled' && rest.length === 5)
    await timed(new sdk.AlwaysOnSampler(), num(rest[0]), num(rest[1]), num(rest[2]), rest[3], rest[4]);
else if (mode === 'export' && rest.length === 4)
    await exportAll(num(rest[0]), rest[1], rest[2], rest[3]);
else {
    console.error('usage: node client_js.mjs OTEL_DIR unsampled N RUNS URL KEY | sampled N CHUNK RUNS URL KEY | export M SERVICE URL KEY');
    process.exit(2);
}
