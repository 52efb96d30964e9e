/**
 * The pure parts of templates: documentParameters checked and substituted against each managed
 * template's parameters, managed ARNs looked up, and a CreateJob body with its template applied
 * (what the template gives, what the request overrides).
 */
import fc from 'fast-check';
import { findManaged, managedFromArn } from '../../src/sim/jobs/managed-templates/api';
import { MANAGED_TEMPLATES } from '../../src/sim/jobs/managed-templates/catalog';
import { resolveDocument } from '../../src/sim/jobs/managed-templates/parameters';
import { applyJobTemplate } from '../../src/sim/jobs/template-jobs';
import { TemplateStore } from '../../src/sim/jobs/templates';

const names = { region: 'us-east-1', accountId: '123456789012' };
const managed = (name: string) => {
  const t = findManaged(name);
  if (t === undefined) throw new Error(`no ${name}`);
  return t;
};

describe('resolveDocument', () => {
  it.each([
    ['AWS-Install-Application', { packages: 'curl jq' }, { handler: 'install-packages.sh', args: ['curl jq'], path: '' }, ''],
    ['AWS-Remove-Application', { packages: 'telnet', runAsUser: 'root' }, { handler: 'remove-packages.sh', args: ['telnet'], path: '' }, 'root'],
    ['AWS-Start-Application', { services: 'nginx', pathToHandler: '/opt/h' }, { handler: 'start-services.sh', args: ['nginx'], path: '/opt/h' }, ''],
    ['AWS-Stop-Application', { services: 'nginx' }, { handler: 'stop-services.sh', args: ['nginx'], path: '' }, ''],
    ['AWS-Restart-Application', { services: 'nginx cron' }, { handler: 'restart-services.sh', args: ['nginx cron'], path: '' }, ''],
    ['AWS-Reboot', {}, { handler: 'reboot.sh', path: '' }, ''],
    ['AWS-Download-File', { downloadUrl: 'https://h/f', filePath: '/f' }, { handler: 'download-file.sh', args: ['https://h/f', '/f'], path: '' }, ''],
  ])('%s %j', (name, params, input, runAsUser) => {
    const r = resolveDocument(managed(name), params);
    expect(r.ok).toBe(true);
    const doc = JSON.parse(r.ok ? r.document : '') as { steps: { action: { input: unknown; runAsUser: string } }[] };
    expect(doc.steps[0]?.action.input).toEqual(input);
    expect(doc.steps[0]?.action.runAsUser).toBe(runAsUser);
    expect(JSON.stringify(doc)).not.toContain('${aws:iot:parameter:');
  });

  it.each([
    ['AWS-Download-File', { downloadUrl: 'https://h/f' }, 'documentParameters.filePath is required by this template'],
    ['AWS-Run-Command', { command: '' }, 'documentParameters.command is required by this template'],
    ['AWS-Reboot', { runAsUser: 'x'.repeat(257) }, 'documentParameters.runAsUser does not match the pattern (.){0,256}'],
    ['AWS-Reboot', { pathToHandler: 'p'.repeat(4097) }, 'documentParameters.pathToHandler does not match the pattern (.){0,4096}'],
    ['AWS-Reboot', { 'bad key': 'v' }, 'documentParameters key "bad key" must match [a-zA-Z0-9_-]{1,128}'],
    ['AWS-Reboot', { services: 'x' }, 'documentParameters.services is not a parameter of AWS-Reboot:1.0 (it takes runAsUser, pathToHandler)'],
    ['AWS-Install-Application', { packages: 'a\u0000b' }, 'documentParameters.packages contains control characters'],
  ])('%s %j is refused', (name, params, message) => {
    expect(resolveDocument(managed(name), params)).toEqual({ ok: false, message });
  });

  it('accepts the longest values the regexes allow, counted in characters', () => {
    const r = resolveDocument(managed('AWS-Reboot'), { runAsUser: 'é'.repeat(256), pathToHandler: '/'.repeat(4096) });
    expect(r.ok).toBe(true);
  });

  it('every template document is a Device Client document whose placeholders are all its own parameters', () => {
    for (const t of MANAGED_TEMPLATES) {
      const text = JSON.stringify(t.document);
      const used = [...text.matchAll(/\$\{aws:iot:parameter:([^}]+)\}/g)].map((m) => m[1]);
      expect(new Set(used)).toEqual(new Set(t.parameters.map((p) => p.key)));
      expect(t.name).toMatch(/^AWS-/);
    }
  });
});

describe('managedFromArn', () => {
  it.each([
    ['arn:aws:iot:us-east-1::jobtemplate/AWS-Reboot:1.0', 'AWS-Reboot'],
    ['arn:aws:iot:us-east-1::jobtemplate/AWS-Reboot', 'AWS-Reboot'],
  ])('%s → %s', (arn, name) => {
    const r = managedFromArn(names, arn);
    expect(r?.ok && r.value.name).toBe(name);
  });

  it.each([
    ['arn:aws:iot:eu-west-1::jobtemplate/AWS-Reboot:1.0', 'ResourceNotFoundException'],
    ['arn:aws:iot:us-east-1::jobtemplate/AWS-Reboot:2.0', 'ResourceNotFoundException'],
    ['arn:aws:iot:us-east-1::jobtemplate/AWS-Reboot:v1', 'InvalidRequestException'],
  ])('%s → %s', (arn, name) => {
    const r = managedFromArn(names, arn);
    expect(r?.ok === false && r.error.name).toBe(name);
  });

  it('is not the managed form with an account', () => {
    expect(managedFromArn(names, 'arn:aws:iot:us-east-1:123456789012:jobtemplate/AWS-Reboot')).toBeUndefined();
  });
});

describe('applyJobTemplate', () => {
  const store = new TemplateStore();
  store.custom.set('t1', {
    id: 't1',
    arn: 'arn:aws:iot:us-east-1:123456789012:jobtemplate/t1',
    description: 'template',
    document: '{"operation":"exec"}',
    createdAtMs: 0,
    configs: {
      timeoutConfig: { inProgressTimeoutInMinutes: 10 },
      abortConfig: { criteriaList: [] },
      maintenanceWindows: [{ startTime: 'cron(0 0 * * ? *)', durationInMinutes: 60 }],
    },
  });
  const arn = 'arn:aws:iot:us-east-1:123456789012:jobtemplate/t1';

  it('passes a body without a template through untouched', () => {
    const b = { targets: ['x'], document: '{}' };
    expect(applyJobTemplate(store, names, b)).toEqual({ ok: true, value: b });
  });

  it('fills what the request leaves out and keeps what it says', () => {
    const r = applyJobTemplate(store, names, { targets: ['x'], jobTemplateArn: arn, timeoutConfig: { inProgressTimeoutInMinutes: 3 } });
    expect(r).toEqual({
      ok: true,
      value: {
        targets: ['x'],
        jobTemplateArn: arn,
        document: '{"operation":"exec"}',
        description: 'template',
        timeoutConfig: { inProgressTimeoutInMinutes: 3 },
        abortConfig: { criteriaList: [] },
        schedulingConfig: { maintenanceWindows: [{ startTime: 'cron(0 0 * * ? *)', durationInMinutes: 60 }] },
      },
    });
  });

  it("puts the template's maintenance windows into the request's schedulingConfig unless it has its own", () => {
    const own = { startTime: '2030-01-01T00:00', maintenanceWindows: [] };
    const kept = applyJobTemplate(store, names, { targets: ['x'], jobTemplateArn: arn, schedulingConfig: own });
    expect(kept.ok && kept.value.schedulingConfig).toEqual(own);
    const merged = applyJobTemplate(store, names, { targets: ['x'], jobTemplateArn: arn, schedulingConfig: { startTime: '2030-01-01T00:00' } });
    expect(merged.ok && merged.value.schedulingConfig).toEqual({
      startTime: '2030-01-01T00:00',
      maintenanceWindows: [{ startTime: 'cron(0 0 * * ? *)', durationInMinutes: 60 }],
    });
  });

  it.each([
    [{ jobTemplateArn: 'arn:aws:iot:us-east-1:999999999999:jobtemplate/t1' }, 'ResourceNotFoundException'],
    [{ jobTemplateArn: 'not-an-arn' }, 'InvalidRequestException'],
    [{ jobTemplateArn: arn, documentSource: 'https://s3/x' }, 'InvalidRequestException'],
    [{ jobTemplateArn: 'arn:aws:iot:us-east-1::jobtemplate/AWS-Reboot:1.0', documentParameters: { runAsUser: 7 } }, 'InvalidRequestException'],
  ])('%j → %s', (b, name) => {
    const r = applyJobTemplate(store, names, { targets: ['x'], ...b });
    expect(r.ok === false && r.error.name).toBe(name);
  });
});

describe('resolveDocument on any input', () => {
  it('either refuses with a message or yields valid JSON of the same shape, each value in place', () => {
    const keys = fc.constantFrom('downloadUrl', 'filePath', 'packages', 'services', 'command', 'runAsUser', 'pathToHandler', 'other', '');
    fc.assert(
      fc.property(fc.constantFrom(...MANAGED_TEMPLATES), fc.dictionary(keys, fc.fullUnicodeString({ maxLength: 300 })), (t, params) => {
        const r = resolveDocument(t, params);
        if (!r.ok) {
          expect(r.message).toMatch(/^documentParameters/);
          return;
        }
        const doc = JSON.parse(r.document) as unknown;
        const shape = (v: unknown): unknown => (typeof v === 'string' ? 's' : Array.isArray(v) ? v.map(shape) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, shape(x)])) : v);
        expect(shape(doc)).toEqual(shape(t.document));
        for (const v of Object.values(params)) if (v !== '') expect(r.document).toContain(JSON.stringify(v).slice(1, -1));
      }),
      { numRuns: 300 },
    );
  });
});
