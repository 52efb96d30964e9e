/**
 * The memory floor: the least a Node process needs to hold one AWS IoT connection. A raw MQTT 3.1.1
 * client over mTLS written against node:tls alone (no MQTT library, so no library's caches): CONNECT,
 * one SUBSCRIBE to notify-next, then PINGREQ every keep-alive. It runs on the release executable's own
 * pinned Node runtime, so the executable is compared with its own runtime holding one connection.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Proc } from '../support/proc';
import type { Stack } from '../support/stack';
import { pinnedNode } from '../support/release';

const RAW_CLIENT = `'use strict';
const fs = require('node:fs');
const tls = require('node:tls');
const o = JSON.parse(process.argv[2]);
function str(s) { const b = Buffer.from(s, 'utf8'); const l = Buffer.alloc(2); l.writeUInt16BE(b.length); return Buffer.concat([l, b]); }
function packet(type, body) {
  const len = [];
  let n = body.length;
  do { let d = n % 128; n = Math.floor(n / 128); if (n > 0) d |= 0x80; len.push(d); } while (n > 0);
  return Buffer.concat([Buffer.from([type, ...len]), body]);
}
const keepalive = 30;
const connect = packet(0x10, Buffer.concat([str('MQTT'), Buffer.from([4, 0x02, 0, keepalive]), str(o.thing)]));
const subscribe = packet(0x82, Buffer.concat([Buffer.from([0, 1]), str('$aws/things/' + o.thing + '/jobs/notify-next'), Buffer.from([1])]));
const s = tls.connect({ host: '127.0.0.1', port: o.port, cert: fs.readFileSync(o.cert), key: fs.readFileSync(o.key), ca: fs.readFileSync(o.ca), rejectUnauthorized: true });
s.setNoDelay(true);
s.on('secureConnect', () => s.write(connect));
s.on('data', (d) => {
  if (d[0] === 0x20) {
    if (d[3] !== 0) { process.stderr.write('CONNACK refused: ' + d[3] + '\\n'); process.exit(1); }
    s.write(subscribe);
  } else if (d[0] === 0x90) {
    process.stdout.write('{"msg":"connected"}\\n');
    setInterval(() => s.write(Buffer.from([0xc0, 0])), keepalive * 1000);
  }
});
s.on('error', (e) => { process.stderr.write(e.message + '\\n'); process.exit(1); });
s.on('close', () => process.exit(1));
`;

/** Starts the raw floor client for `thing` on the pinned Node runtime; it logs `connected` on SUBACK. */
export async function startRawFloorClient(stack: Stack, thing: string, dir: string): Promise<Proc> {
  const certs = stack.pki.things[thing];
  if (!certs) throw new Error(`no certificate for ${thing}`);
  const file = join(dir, 'raw-floor-client.js');
  await writeFile(file, RAW_CLIENT);
  const node = pinnedNode();
  if (!existsSync(node)) throw new Error(`${node} is missing: npm run package first (npm run bench does)`);
  const args = { port: stack.broker.port, thing, cert: certs.certificateFile, key: certs.privateKeyFile, ca: stack.pki.caFile };
  return new Proc(node, [file, JSON.stringify(args)], { PATH: process.env['PATH'] ?? '/usr/bin:/bin' });
}
