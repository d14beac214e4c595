// send.js URL KEYID:SECRET — Zipkin's JS tracer (zipkin 0.22) records, for t_zipkin.sh, one
// trace of a client call and the server that handled it (the server half shares the client's
// span id, as Zipkin's RPC instrumentations do), each with local and remote endpoints, a
// tag, an annotation, and the server's error tag, then a local child span of the server; the
// HTTP transport (zipkin-transport-http, JSON v2) sends them to owld. Prints
// {"traceId", "spanId", "sent"} as JSON once every span was posted.
const { Tracer, BatchRecorder, ExplicitContext, Annotation, InetAddress, jsonEncoder } =
    require('zipkin');
const { HttpLogger } = require('zipkin-transport-http');

const [url, key] = process.argv.slice(2);
let posted = 0;
// the client and the server are two processes in real life: one recorder and transport each
function transport() {
    return new HttpLogger({
        endpoint: url,
        jsonEncoder: jsonEncoder.JSON_V2,
        headers: { Authorization: `Bearer ${key}` },
        httpInterval: 50,
        log: { error: (e) => { console.error(String(e)); process.exitCode = 1; } },
        fetchImplementation: (u, o) => fetch(u, o).then((r) => {
            posted += r.status === 202;
            return r;
        }),
    });
}
const loggers = [transport(), transport()];
const ctxImpl = new ExplicitContext();
const client = new Tracer({ ctxImpl, recorder: new BatchRecorder({ logger: loggers[0] }),
                            localServiceName: 'zclient', traceId128Bit: true });
const server = new Tracer({ ctxImpl, recorder: new BatchRecorder({ logger: loggers[1] }),
                            localServiceName: 'zserver' });

const id = client.createRootId();
client.setId(id);
client.recordServiceName('zclient');
client.recordRpc('get /items');
client.recordAnnotation(new Annotation.ClientSend());
client.recordAnnotation(new Annotation.ServerAddr({ serviceName: 'zserver',
    host: new InetAddress('127.0.0.2'), port: 8080 }));
client.recordBinary('http.path', '/items');

server.setId(id); // the same span id: the server half of the RPC
server.recordServiceName('zserver');
server.recordRpc('get /items');
server.recordAnnotation(new Annotation.ServerRecv());
server.recordAnnotation(new Annotation.ClientAddr({ host: new InetAddress('127.0.0.1') }));
server.recordMessage('cache miss');
server.recordBinary('error', 'backend timeout');
const child = server.createChildId(id);
server.setId(child);
server.recordServiceName('zserver');
server.recordRpc('load');
server.recordAnnotation(new Annotation.LocalOperationStart('load'));
setTimeout(() => {
    server.setId(child);
    server.recordAnnotation(new Annotation.LocalOperationStop());
    server.setId(id);
    server.recordAnnotation(new Annotation.ServerSend());
    client.setId(id);
    client.recordAnnotation(new Annotation.ClientRecv());
    const t0 = Date.now();
    const wait = () => {
        if (posted >= 2 && loggers.every((l) => l.queue.length === 0)) {
            console.log(JSON.stringify({ traceId: id.traceId, spanId: id.spanId,
                                         child: child.spanId, sent: posted }));
            process.exit(process.exitCode || 0);
        }
        if (Date.now() - t0 > 10000) {
            console.error('spans not sent in 10 s');
            process.exit(1);
        }
        setTimeout(wait, 20);
    };
    wait();
}, 5);
