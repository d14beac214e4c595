// push.mjs — the OpenTelemetry JS SDK pushing metrics to owld through one OTLP/HTTP metric
// exporter (node push.mjs URL KEYID:SECRET json|proto SERVICE). It records a counter, an
// up-down counter, a gauge and a histogram with attributes {host: "h1"}, exporting twice
// (cumulative temporality, the SDK's default, so owld turns the second export into deltas),
// and prints what it recorded and each export's result as one JSON line for
// tests/integration/t_otlp_metrics.sh to compare with what owld answers.
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { Resource } from '@opentelemetry/resources';
import { OTLPMetricExporter as JsonExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtoExporter } from '@opentelemetry/exporter-metrics-otlp-proto';

const [url, key, mode, service] = process.argv.slice(2);
if (!url || !key || !['json', 'proto'].includes(mode) || !service) {
    console.error('usage: node push.mjs URL KEYID:SECRET json|proto SERVICE');
    process.exit(2);
}
const Exporter = mode === 'json' ? JsonExporter : ProtoExporter;
const exporter = new Exporter({ url, headers: { authorization: `Bearer ${key}` } });
const results = [];
const send = exporter.export.bind(exporter);
exporter.export = (metrics, done) => send(metrics, (r) => {
    results.push({ code: r.code, error: r.error ? String(r.error.message || r.error) : null });
    done(r);
});
const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3600000 });
const provider = new MeterProvider({
    resource: new Resource({ 'service.name': service }),
    readers: [reader],
});
const meter = provider.getMeter('owl-test', '1.0.0');
const attrs = { host: 'h1' };
const counter = meter.createCounter('requests', { unit: '{request}' });
const updown = meter.createUpDownCounter('queue.items', { unit: '{item}' });
const gauge = meter.createGauge('temperature', { unit: 'Cel' });
const hist = meter.createHistogram('latency', { unit: 'ms' });

const rec = { counter: [], updown: [], gauge: [], histogram: [] };
const batches = [
    { counter: [5, 2], updown: [10, -3], gauge: 21.5, histogram: [1, 5, 20, 150, 3] },
    { counter: [7], updown: [4], gauge: 19.25, histogram: [2, 700, 40] },
];
for (const b of batches) {
    b.counter.forEach((v) => { counter.add(v, attrs); rec.counter.push(v); });
    b.updown.forEach((v) => { updown.add(v, attrs); rec.updown.push(v); });
    gauge.record(b.gauge, attrs);
    rec.gauge.push(b.gauge);
    b.histogram.forEach((v) => { hist.record(v, attrs); rec.histogram.push(v); });
    await reader.forceFlush();
}
// no provider.shutdown(): it would export a third time (the same cumulative figures)
console.log(JSON.stringify({ recorded: rec, exports: results }));
process.exit(results.length > 0 && results.every((r) => r.code === 0) ? 0 : 1);
