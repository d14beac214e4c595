// logs.mjs — the OpenTelemetry JS SDK sending log records to owld through one OTLP/HTTP log
// exporter (node logs.mjs URL KEYID:SECRET json|proto SERVICE). It emits three records with
// severities, attributes and (two of them) the trace and span ids of a span context, flushes
// once, and prints what it emitted and the export's result as one JSON line for
// tests/integration/t_otlp_logs.sh to compare with what owld gives back.
import { context, trace, TraceFlags } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { LoggerProvider, BatchLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { Resource } from '@opentelemetry/resources';
import { OTLPLogExporter as JsonExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as ProtoExporter } from '@opentelemetry/exporter-logs-otlp-proto';

const [url, key, mode, service] = process.argv.slice(2);
if (!url || !key || !['json', 'proto'].includes(mode) || !service) {
    console.error('usage: node logs.mjs URL KEYID:SECRET json|proto SERVICE');
    process.exit(2);
}
const Exporter = mode === 'json' ? JsonExporter : ProtoExporter;
const exporter = new Exporter({ url, headers: { authorization: `Bearer ${key}` } });
const results = [];
const send = exporter.export.bind(exporter);
exporter.export = (records, done) => send(records, (r) => {
    results.push({ code: r.code, n: records.length,
                   error: r.error ? String(r.error.message || r.error) : null });
    done(r);
});
const provider = new LoggerProvider({
    resource: new Resource({ 'service.name': service, 'host.name': 'node-host' }),
});
const processor = new BatchLogRecordProcessor(exporter, { scheduledDelayMillis: 3600000 });
provider.addLogRecordProcessor(processor);
const logger = provider.getLogger('owl-test', '1.0.0');

const span = { traceId: '5b8efff798038103d269b633813fc60c', spanId: 'eee19b7ec3c1b174',
               traceFlags: TraceFlags.SAMPLED };
const ctx = trace.setSpanContext(context.active(), span);
const now = Date.now();
const records = [
    { body: `${mode} login ok`, severityNumber: SeverityNumber.INFO, severityText: 'INFO',
      attributes: { user: 'ada', attempt: 1 }, context: ctx, timestamp: now - 2 },
    { body: `${mode} disk nearly full`, severityNumber: SeverityNumber.WARN,
      attributes: { 'disk.free': 0.05 }, context: ctx, timestamp: now - 1 },
    { body: `${mode} crash`, severityNumber: SeverityNumber.ERROR, severityText: 'ERROR',
      attributes: { fatal: true }, timestamp: now },
];
for (const r of records)
    logger.emit(r);
await processor.forceFlush();
console.log(JSON.stringify({ span, emitted: records.map((r) => ({
    body: r.body, severityText: r.severityText || null, attributes: r.attributes,
    traced: !!r.context })), exports: results }));
process.exit(results.length > 0 && results.every((r) => r.code === 0) ? 0 : 1);
