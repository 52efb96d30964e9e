/**
 * RegisterThing parameters from the configuration (a literal, the first line of a file, or an
 * environment variable) and the claim connection's client id, which must differ between devices:
 * they all share one claim certificate, and AWS IoT drops the older of two connections with the
 * same client id.
 */
import { promises as fsp } from 'node:fs';
import type { ParameterSource, ProvisioningConfig } from '../config/types';
import { IdentityError } from './errors';

export interface ParameterOptions {
  env: NodeJS.ProcessEnv;
  /** Default /etc/machine-id. */
  machineIdFile?: string;
}

async function resolveOne(name: string, src: ParameterSource, env: NodeJS.ProcessEnv): Promise<string> {
  if (typeof src === 'string') return src;
  if ('file' in src) {
    const text = await fsp.readFile(src.file, 'utf8').catch((err: NodeJS.ErrnoException) => {
      throw new IdentityError(`provisioning.parameters.${name}: cannot read ${src.file}: ${err.code ?? err.message}`);
    });
    const line = (text.split(/\r?\n/)[0] ?? '').trim();
    if (line === '') throw new IdentityError(`provisioning.parameters.${name}: ${src.file} is empty`);
    return line;
  }
  const value = env[src.env];
  if (value === undefined || value === '') throw new IdentityError(`provisioning.parameters.${name}: environment variable ${src.env} is not set`);
  return value;
}

/** Every configured parameter as a string; a source that cannot be read is an IdentityError naming it. */
export async function resolveParameters(p: ProvisioningConfig, env: NodeJS.ProcessEnv): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [name, src] of Object.entries(p.parameters)) out[name] = await resolveOne(name, src, env);
  return out;
}

/** MQTT client ids: at most 128 characters; keep them to a conservative alphabet. */
function clientIdPart(text: string): string {
  return text.replace(/[^A-Za-z0-9_.:-]/g, '-').slice(0, 100);
}

/** provisioning.clientId, else provisioning-{SerialNumber parameter, else /etc/machine-id}. */
export async function claimClientId(p: ProvisioningConfig, params: Record<string, string>, o: ParameterOptions): Promise<string> {
  if (p.clientId !== undefined) return p.clientId;
  const serial = params.SerialNumber;
  if (serial !== undefined && serial !== '') return `provisioning-${clientIdPart(serial)}`;
  const file = o.machineIdFile ?? '/etc/machine-id';
  const id = (await fsp.readFile(file, 'utf8').catch(() => '')).trim();
  if (id === '') {
    throw new IdentityError(
      `no unique client id for the claim connection: no SerialNumber parameter and ${file} is missing or empty; set provisioning.clientId`,
    );
  }
  return `provisioning-${clientIdPart(id)}`;
}
