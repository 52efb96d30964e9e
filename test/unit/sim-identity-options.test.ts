/**
 * The two provisioning switches (docs/PROVISIONING.md §4), on the identity service itself with the
 * sim's real PKI: `ownershipTokenReuse` and `templateEnabledByDefault`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../src/lib/clock';
import { IdentityService } from '../../src/sim/identity';
import { ensureSimPki } from '../../src/sim/registry/pki-store';
import type { SimPki } from '../../src/sim/registry/pki-store';
import { JobsService } from '../../src/sim/service';
import type { Publication, SimOptions } from '../../src/sim/types';

let dir: string;
let pki: SimPki;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ija-identity-opts-'));
  pki = await ensureSimPki(dir, []);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const BODY = JSON.stringify({ Parameters: { SN: { Type: 'String' } }, Resources: { thing: { Type: 'AWS::IoT::Thing', Properties: { ThingName: { 'Fn::Sub': 'd-${SN}' } } } } });

function make(options: Partial<SimOptions>) {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const out: Publication[] = [];
  const service = new JobsService({ clock, publish: () => undefined, options });
  const id = new IdentityService({ service, clock, pki, publish: (p) => out.push(p) });
  const ask = async (topic: string, body: unknown): Promise<Publication> => {
    const n = out.length;
    await id.handleMqtt({ clientId: 'c1' }, topic, Buffer.from(JSON.stringify(body)));
    const p = out[n];
    if (p === undefined || out.length !== n + 1) throw new Error('expected exactly one answer');
    expect(p.to).toBe('c1');
    return p;
  };
  return { id, ask };
}

describe('ownershipTokenReuse', () => {
  it.each([
    ['until-expiry', 'accepted'],
    ['single-use', 'rejected'],
  ] as const)('%s: a second RegisterThing with the same token is %s', async (reuse, second) => {
    const { id, ask } = make({ ownershipTokenReuse: reuse });
    expect(id.templates.create({ templateName: 'T', templateBody: BODY, provisioningRoleArn: 'arn:aws:iam::123456789012:role/R', enabled: true }).ok).toBe(true);
    const made = await ask('$aws/certificates/create/json', {});
    const token = (made.payload as { certificateOwnershipToken: string }).certificateOwnershipToken;
    const first = await ask('$aws/provisioning-templates/T/provision/json', { certificateOwnershipToken: token, parameters: { SN: '1' } });
    expect(first.topic).toMatch(/\/accepted$/);
    const again = await ask('$aws/provisioning-templates/T/provision/json', { certificateOwnershipToken: token, parameters: { SN: '1' } });
    expect(again.topic).toMatch(new RegExp(`/${second}$`));
    if (second === 'rejected') expect(again.payload).toMatchObject({ statusCode: 400, errorCode: 'InvalidCertificateOwnershipToken' });
    else expect(again.payload).toEqual(first.payload);
  });
});

describe('templateEnabledByDefault', () => {
  it.each([
    [false, 'rejected'],
    [true, 'accepted'],
  ] as const)('%s: RegisterThing on a template created without `enabled` is %s', async (enabled, outcome) => {
    const { id, ask } = make({ templateEnabledByDefault: enabled });
    expect(id.templates.create({ templateName: 'T', templateBody: BODY, provisioningRoleArn: 'arn:aws:iam::123456789012:role/R' }).ok).toBe(true);
    const made = await ask('$aws/certificates/create/json', {});
    const token = (made.payload as { certificateOwnershipToken: string }).certificateOwnershipToken;
    const r = await ask('$aws/provisioning-templates/T/provision/json', { certificateOwnershipToken: token, parameters: { SN: '2' } });
    expect(r.topic).toMatch(new RegExp(`/${outcome}$`));
  });
});
