import { readFileSync } from 'node:fs';
import { connect } from 'mqtt';
import { startStack } from '../support/stack';
const ACL = ['pattern read $aws/things/%u/#', 'pattern write $aws/things/%u/jobs/+/update', 'user jobs-service', 'topic readwrite #', 'topic readwrite $aws/#', ''].join('\n');
it('exp', async () => {
  const stack = await startStack({ things: ['thing1'], acl: ACL });
  const f = stack.pki.things['thing1']!;
  for (const v of [4, 5] as const) {
    const c1 = connect(stack.broker.url, { protocolVersion: v, clientId: `thing1-${v}`, cert: readFileSync(f.certificateFile), key: readFileSync(f.privateKeyFile), ca: readFileSync(stack.pki.caFile), reconnectPeriod: 0, rejectUnauthorized: false });
    const events: string[] = [];
    c1.on('disconnect', (p) => events.push(`disconnect ${JSON.stringify(p.reasonCode)}`));
    c1.on('close', () => events.push('close'));
    c1.on('error', (e) => events.push(`error ${e.message}`));
    await new Promise((r) => c1.once('connect', r));
    c1.subscribe(['$aws/things/thing1/jobs/get/+'], { qos: 1 }, (err, g) => events.push(`suback ${err?.message} ${JSON.stringify(g)}`));
    c1.publish('$aws/things/thing1/jobs/get', '{}', { qos: 1 }, (err) => events.push(`puback ${err?.message}`));
    await new Promise((r) => setTimeout(r, 1000));
    console.log(v, events);
    c1.end(true);
  }
  console.log(readFileSync(stack.broker.logFile, 'utf8').slice(-1500));
  await stack.close();
});
