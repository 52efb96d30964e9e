/**
 * One benchmark stack: a PKI, mosquitto on loopback over mTLS (TCP_NODELAY), and the local Jobs
 * service joined to it as `jobs-service`. Each measurement that could be skewed by an earlier one's
 * leftovers (10,000 finished jobs in the service's world) gets a fresh stack.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startJobsService } from '../../src/sim/start';
import type { JobsServiceHandle } from '../../src/sim/start';
import { startMosquitto } from './mosquitto';
import type { Mosquitto } from './mosquitto';
import { makeTestPki } from './pki';
import type { TestPki } from './pki';

export interface Stack {
  dir: string;
  pki: TestPki;
  broker: Mosquitto;
  sim: JobsServiceHandle;
  close(): Promise<void>;
}

export async function startStack(things: string[]): Promise<Stack> {
  const dir = await mkdtemp(join(tmpdir(), 'ija-bench-'));
  const pki = await makeTestPki(dir, things);
  await writeFile(join(dir, 'ca.key'), pki.caKeyPem, { mode: 0o600 });
  const broker = await startMosquitto({ dir, pki });
  const sim = await startJobsService({
    stateDir: join(dir, 'sim'),
    things,
    broker: broker.url,
    brokerCert: pki.service.certificateFile,
    brokerKey: pki.service.privateKeyFile,
    brokerCa: pki.caFile,
    caCert: pki.caFile,
    caKey: join(dir, 'ca.key'),
  }).catch(async (err: unknown) => {
    await broker.stop();
    throw err;
  });
  return {
    dir,
    pki,
    broker,
    sim,
    close: async () => {
      await sim.close();
      await broker.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Runs `fn` on a fresh stack and always tears it down. */
export async function withStack<T>(things: string[], fn: (s: Stack) => Promise<T>): Promise<T> {
  const stack = await startStack(things);
  try {
    return await fn(stack);
  } finally {
    await stack.close();
  }
}
