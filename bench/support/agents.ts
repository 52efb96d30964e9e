/**
 * Launches the agents under test against a stack: OURS (the `iot-jobs-agent run` CLI with a
 * no-op handler written at run time), OURS-CRT (the same with mqtt.transport "aws-crt", MQTT 3.1.1,
 * key files), RELEASE (the standalone executable from `npm run package`, as OURS otherwise) and the BASELINE (bench/baseline/agent.ts, the SDK-sample
 * style agent). Both print JSON lines with `job started` / `outcome reported`.
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Proc, repoRoot } from './proc';
import { releaseExecutable } from './release';
import type { Stack } from './stack';

export type AgentKind = 'ours' | 'ours-crt' | 'release' | 'baseline';
export const AGENT_KINDS: AgentKind[] = ['ours', 'ours-crt', 'release', 'baseline'];

/** Our CLI: from dist/ on either transport, or the standalone executable (RELEASE, default transport). */
export function isOurs(kind: AgentKind | 'floor'): kind is 'ours' | 'ours-crt' | 'release' {
  return kind === 'ours' || kind === 'ours-crt' || kind === 'release';
}

/** The no-op handler. It records its start time only when asked (latency runs), so drains measure pure overhead. */
const NOOP_HANDLER = `'use strict';
const fs = require('node:fs');
module.exports = {
  name: 'noop',
  async run(ctx) {
    const f = ctx.options.startLog;
    if (f) fs.appendFileSync(f, ctx.job.jobId + ' ' + (performance.timeOrigin + performance.now()) + '\\n');
    return { status: 'SUCCEEDED' };
  },
};
`;

export const NOOP_DOCUMENT = JSON.stringify({ operation: 'noop' });

export interface LaunchOptions {
  stack: Stack;
  thing: string;
  kind: AgentKind;
  /** A fresh directory for this agent's config, handlers and state. */
  dir: string;
  startLog?: string;
  /** NOTIFY_SOCKET for our agent (READY=1 via systemd-notify). */
  notifySocket?: string;
  /** RELEASE: another standalone executable than release/'s (a side-by-side comparison of builds). */
  executable?: string;
  /** Extra environment for the agent process (the soak runs it under libfaketime). */
  env?: NodeJS.ProcessEnv;
}

async function writeOurConfig(o: LaunchOptions): Promise<string> {
  const handlersDir = join(o.dir, 'handlers');
  await mkdir(handlersDir, { recursive: true, mode: 0o755 });
  // The loader refuses handler files or directories others could write.
  await chmod(o.dir, 0o755);
  await chmod(handlersDir, 0o755);
  const file = join(handlersDir, 'noop.js');
  await writeFile(file, NOOP_HANDLER, { mode: 0o644 });
  await chmod(file, 0o644);
  const certs = o.stack.pki.things[o.thing];
  if (!certs) throw new Error(`no certificate for ${o.thing}`);
  // The aws-crt transport with MQTT 3.1.1 and the same key files: only the MQTT client differs.
  const crt = o.kind === 'ours-crt' ? { transport: 'aws-crt', protocolVersion: 4 } : {};
  const config = {
    thingName: o.thing,
    mqtt: { endpoint: '127.0.0.1', port: o.stack.broker.port, keepAliveSeconds: 30, ...crt },
    tls: { certificateFile: certs.certificateFile, privateKeyFile: certs.privateKeyFile, rootCaFile: o.stack.pki.caFile },
    jobs: { dataPlaneEndpoint: o.stack.sim.endpoints.dataPlane },
    handlers: { directories: [handlersDir], options: o.startLog ? { noop: { startLog: o.startLog } } : {} },
    stateDirectory: join(o.dir, 'state'),
    log: { level: 'info' },
  };
  const configFile = join(o.dir, 'agent.json');
  await writeFile(configFile, JSON.stringify(config, null, 2));
  return configFile;
}

export async function launchAgent(o: LaunchOptions): Promise<Proc> {
  await mkdir(o.dir, { recursive: true });
  const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...o.env };
  if (isOurs(o.kind)) {
    const configFile = await writeOurConfig(o);
    if (o.notifySocket) env['NOTIFY_SOCKET'] = o.notifySocket;
    if (o.kind === 'release') return new Proc(o.executable ?? releaseExecutable(), ['run', '--config', configFile], env);
    return new Proc(process.execPath, [join(repoRoot(), 'bin', 'iot-jobs-agent.js'), 'run', '--config', configFile], env);
  }
  const certs = o.stack.pki.things[o.thing];
  if (!certs) throw new Error(`no certificate for ${o.thing}`);
  const args = {
    host: 'localhost',
    port: o.stack.broker.port,
    caFile: o.stack.pki.caFile,
    certificateFile: certs.certificateFile,
    privateKeyFile: certs.privateKeyFile,
    thingName: o.thing,
    ...(o.startLog ? { startLog: o.startLog } : {}),
  };
  return new Proc(process.execPath, [join(__dirname, '..', 'baseline', 'agent.js'), JSON.stringify(args)], env);
}

/** The log line that says the agent is connected and listening for jobs. */
export function isConnectedLine(kind: AgentKind): (l: { msg?: string }) => boolean {
  return isOurs(kind) ? (l) => l.msg === 'connected to the broker' : (l) => l.msg === 'connected';
}
