// send.js DAEMON_ADDR — aws-xray-sdk-core sends three traces over UDP to the daemon address
// (owld's X-Ray daemon endpoint): a segment with an annotation, metadata, HTTP data, a nested
// subsegment, a remote call that faults with an exception. Sampling rules are fetched from the
// daemon's TCP port (centralized sampling). Prints [[traceId, sampled], ...] as JSON.
const AWSXRay = require('aws-xray-sdk-core');
const addr = process.argv[2];
AWSXRay.setDaemonAddress(addr);
AWSXRay.setContextMissingStrategy('LOG_ERROR');
AWSXRay.setLogger({ error() {}, warn() {}, info() {}, debug() {} });
AWSXRay.middleware.enableDynamicNaming();

function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

async function main() {
  const out = [];
  for (let i = 0; i < 3; i++) {
    const seg = new AWSXRay.Segment('node-svc');
    seg.addAnnotation('order', i);
    seg.addMetadata('k', { v: i });
    seg.http = { request: { method: 'POST', url: `http://node/x/${i}` }, response: { status: 502 } };
    const sub = seg.addNewSubsegment('work');
    const remote = sub.addNewSubsegment('inventory.internal');
    remote.namespace = 'remote';
    await sleep(5);
    remote.addError(new Error(`down ${i}`));
    remote.addFaultFlag();
    remote.close();
    sub.close();
    seg.addFaultFlag();
    seg.close();
    out.push([seg.trace_id, !seg.notTraced]);
  }
  await sleep(300);
  console.log(JSON.stringify(out));
}
main().catch((e) => { console.error(e); process.exit(1); });
