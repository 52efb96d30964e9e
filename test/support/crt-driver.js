'use strict';
/**
 * Runs the aws-crt transport (src/transport, compiled on the fly) in its own process, driven by JSON
 * lines on stdin, reporting JSON lines on stdout. aws-crt keeps native resources alive past close
 * and has aborted during process teardown, so test processes never load it; running it here also
 * lets a test check that the process exits by itself (no open handle) once the transport is closed.
 * Argument: JSON TransportOptions. Commands: {id, cmd: connect|subscribe|unsubscribe|publish|close, …}.
 * Output: {ev: created|connect|disconnect|message|error|result|exit-ready, …}.
 */
const fs = require('node:fs');
const path = require('node:path');
const ts = require('typescript');

require.extensions['.ts'] = (m, filename) => {
  const out = ts.transpileModule(fs.readFileSync(filename, 'utf8'), {
    fileName: filename,
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
  });
  m._compile(out.outputText, filename);
};

const { createTransport, probePkcs11 } = require(path.join(__dirname, '..', '..', 'src', 'transport', 'index.ts'));

const out = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
const errInfo = (err) => ({ kind: err && err.kind, name: err && err.name, message: String(err && err.message ? err.message : err) });

const opts = JSON.parse(process.argv[2]);
if (opts.probe) {
  // check-config's probe: one result line, then the process must exit by itself.
  probePkcs11(opts.probe).then(
    () => out({ ev: 'probe', ok: true }),
    (err) => out({ ev: 'probe', ok: false, ...errInfo(err) }),
  );
  process.stdin.destroy();
  return;
}
let transport;
try {
  transport = createTransport(opts);
  out({ ev: 'created' });
} catch (err) {
  out({ ev: 'create-failed', ...errInfo(err) });
  process.stdin.destroy();
  return;
}
transport.on('connect', (e) => out({ ev: 'connect', sessionPresent: e.sessionPresent }));
transport.on('disconnect', (err) => out({ ev: 'disconnect', ...(err ? errInfo(err) : {}) }));
transport.on('message', (m) => out({ ev: 'message', topic: m.topic, payload: m.payload.toString('utf8') }));
transport.on('error', (err) => out({ ev: 'error', ...errInfo(err) }));
transport.on('denied', (d) => out({ ev: 'denied', ...d }));
transport.on('settled', () => out({ ev: 'settled' }));

async function exec(c) {
  switch (c.cmd) {
    case 'connect': return transport.connect();
    case 'subscribe': return transport.subscribe(c.filters, c.qos);
    case 'unsubscribe': return transport.unsubscribe(c.filters);
    case 'publish': return transport.publish(c.topic, c.payload, c.qos);
    case 'close': return transport.close();
    default: throw new Error(`unknown command ${c.cmd}`);
  }
}

let buf = '';
process.stdin.on('data', (chunk) => {
  buf += chunk.toString('utf8');
  let i;
  while ((i = buf.indexOf('\n')) >= 0) {
    const c = JSON.parse(buf.slice(0, i));
    buf = buf.slice(i + 1);
    const t0 = Date.now();
    exec(c).then(
      () => out({ ev: 'result', id: c.id, ok: true, ms: Date.now() - t0, connected: transport.connected }),
      (err) => out({ ev: 'result', id: c.id, ok: false, ms: Date.now() - t0, ...errInfo(err) }),
    );
  }
});
