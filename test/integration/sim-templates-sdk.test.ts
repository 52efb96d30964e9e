/**
 * Job templates and the AWS managed templates on the sim's control plane, driven by AWS's own
 * `@aws-sdk/client-iot` over a real socket: the shapes it decodes, the errors it names, and the
 * job a template makes (document, description, configurations, documentParameters).
 */
import {
  CreateJobCommand,
  CreateJobTemplateCommand,
  DeleteJobTemplateCommand,
  DescribeJobCommand,
  DescribeJobExecutionCommand,
  DescribeJobTemplateCommand,
  DescribeManagedJobTemplateCommand,
  IoTClient,
  ListJobTemplatesCommand,
  ListManagedJobTemplatesCommand,
} from '@aws-sdk/client-iot';
import { systemClock } from '../../src/lib/clock';
import { startControlPlane } from '../../src/sim/fronts/http-control-plane';
import type { RunningServer } from '../../src/sim/fronts/http-util';
import { JobsService } from '../../src/sim/service';
import { sdkError } from '../support/sdk';

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'not-a-secret' };
const THING = 'arn:aws:iot:us-east-1:123456789012:thing/thing1';
const MANAGED = (name: string, v = '1.0'): string => `arn:aws:iot:us-east-1::jobtemplate/${name}:${v}`;
const PUBLISHED = [
  'AWS-Download-File',
  'AWS-Install-Application',
  'AWS-Reboot',
  'AWS-Remove-Application',
  'AWS-Restart-Application',
  'AWS-Run-Command',
  'AWS-Start-Application',
  'AWS-Stop-Application',
];

let service: JobsService;
let control: RunningServer;
let iot: IoTClient;

beforeAll(async () => {
  service = new JobsService({ clock: systemClock, publish: () => undefined });
  service.createThing('thing1');
  control = await startControlPlane({ service, host: '127.0.0.1', port: 0 });
  iot = new IoTClient({ region: 'us-east-1', endpoint: `http://127.0.0.1:${control.port}`, credentials, maxAttempts: 1 });
});

afterAll(async () => {
  iot.destroy();
  await control.close();
});


/** The document the device gets (the data plane's DescribeJobExecution, through the service). */
function deviceDocument(jobId: string): unknown {
  const r = service.httpDescribe('thing1', jobId, { includeJobDocument: true });
  if (!r.ok) throw new Error(r.error.message);
  return JSON.parse(String(r.value.execution?.jobDocument));
}

describe('AWS managed templates', () => {
  it('lists every published template, version 1.0 on Linux, with managed ARNs', async () => {
    const r = await iot.send(new ListManagedJobTemplatesCommand({}));
    const names = (r.managedJobTemplates ?? []).map((t) => t.templateName);
    expect(names).toEqual(PUBLISHED);
    for (const t of r.managedJobTemplates ?? []) {
      expect(t).toMatchObject({ templateVersion: '1.0', environments: ['LINUX'], templateArn: MANAGED(t.templateName!) });
      expect(t.description).toEqual(expect.any(String));
    }
  });

  it('pages the list and filters it by name', async () => {
    const first = await iot.send(new ListManagedJobTemplatesCommand({ maxResults: 3 }));
    expect(first.managedJobTemplates).toHaveLength(3);
    const rest = await iot.send(new ListManagedJobTemplatesCommand({ nextToken: first.nextToken }));
    expect(rest.nextToken).toBeUndefined();
    expect([...(first.managedJobTemplates ?? []), ...(rest.managedJobTemplates ?? [])].map((t) => t.templateName)).toEqual(PUBLISHED);
    const one = await iot.send(new ListManagedJobTemplatesCommand({ templateName: 'AWS-Reboot' }));
    expect(one.managedJobTemplates?.map((t) => t.templateArn)).toEqual([MANAGED('AWS-Reboot')]);
    expect(await sdkError(iot.send(new ListManagedJobTemplatesCommand({ templateName: 'AWS-Teleport' })))).toMatchObject({
      name: 'ResourceNotFoundException',
      status: 404,
    });
    expect(await sdkError(iot.send(new ListManagedJobTemplatesCommand({ maxResults: 251 })))).toMatchObject({ name: 'InvalidRequestException' });
  });

  it('describes AWS-Download-File with its published document and parameters', async () => {
    const d = await iot.send(new DescribeManagedJobTemplateCommand({ templateName: 'AWS-Download-File' }));
    expect(d).toMatchObject({ templateName: 'AWS-Download-File', templateVersion: '1.0', templateArn: MANAGED('AWS-Download-File'), environments: ['LINUX'] });
    expect(d.document).toBe(
      '{"version":"1.0","steps":[{"action":{"name":"Download-File","type":"runHandler","input":{"handler":"download-file.sh",' +
        '"args":["${aws:iot:parameter:downloadUrl}","${aws:iot:parameter:filePath}"],"path":"${aws:iot:parameter:pathToHandler}"},' +
        '"runAsUser":"${aws:iot:parameter:runAsUser}"}}]}',
    );
    expect(d.documentParameters?.map((p) => [p.key, p.regex, p.optional])).toEqual([
      ['downloadUrl', '(.*?)', false],
      ['filePath', '(.*?)', false],
      ['runAsUser', '(.){0,256}', true],
      ['pathToHandler', '(.){0,4096}', true],
    ]);
    for (const p of d.documentParameters ?? []) expect(p.description && p.example).toBeTruthy();
  });

  it('describes every template, by default version and by explicit version; AWS-Run-Command has no pathToHandler', async () => {
    for (const name of PUBLISHED) {
      const d = await iot.send(new DescribeManagedJobTemplateCommand({ templateName: name, templateVersion: '1.0' }));
      const doc = JSON.parse(d.document ?? '') as { version: string; steps: { action: { type: string; runAsUser: string } }[] };
      expect(doc.version).toBe('1.0');
      expect(doc.steps[0]?.action.runAsUser).toBe('${aws:iot:parameter:runAsUser}');
      const keys = (d.documentParameters ?? []).map((p) => p.key);
      expect(keys).toContain('runAsUser');
      expect(keys.includes('pathToHandler')).toBe(name !== 'AWS-Run-Command');
      expect(doc.steps[0]?.action.type).toBe(name === 'AWS-Run-Command' ? 'runCommand' : 'runHandler');
    }
    const reboot = await iot.send(new DescribeManagedJobTemplateCommand({ templateName: 'AWS-Reboot' }));
    expect(reboot.documentParameters?.filter((p) => p.optional === false)).toEqual([]);
  });

  it('refuses unknown names and versions by name', async () => {
    expect(await sdkError(iot.send(new DescribeManagedJobTemplateCommand({ templateName: 'AWS-Teleport' })))).toMatchObject({
      name: 'ResourceNotFoundException',
      status: 404,
    });
    expect(await sdkError(iot.send(new DescribeManagedJobTemplateCommand({ templateName: 'AWS-Reboot', templateVersion: '9.9' })))).toMatchObject({
      name: 'ResourceNotFoundException',
    });
    expect(await sdkError(iot.send(new DescribeManagedJobTemplateCommand({ templateName: 'AWS-Reboot', templateVersion: 'latest' })))).toMatchObject({
      name: 'InvalidRequestException',
      status: 400,
    });
  });
});

describe('CreateJob from a managed template', () => {
  it('substitutes documentParameters, leaves optional ones empty and records both on the job', async () => {
    const created = await iot.send(
      new CreateJobCommand({
        jobId: 'mt-download',
        targets: [THING],
        jobTemplateArn: MANAGED('AWS-Download-File'),
        documentParameters: { downloadUrl: 'https://example.com/a "quoted" file', filePath: '/tmp/a\\b' },
      }),
    );
    // Without a description of its own the job takes the template's.
    expect(created.description).toBe((await iot.send(new DescribeManagedJobTemplateCommand({ templateName: 'AWS-Download-File' }))).description);
    expect(deviceDocument('mt-download')).toEqual({
      version: '1.0',
      steps: [
        {
          action: {
            name: 'Download-File',
            type: 'runHandler',
            input: { handler: 'download-file.sh', args: ['https://example.com/a "quoted" file', '/tmp/a\\b'], path: '' },
            runAsUser: '',
          },
        },
      ],
    });
    const job = await iot.send(new DescribeJobCommand({ jobId: 'mt-download' }));
    expect(job.job?.jobTemplateArn).toBe(MANAGED('AWS-Download-File'));
    expect(job.job?.documentParameters).toEqual({ downloadUrl: 'https://example.com/a "quoted" file', filePath: '/tmp/a\\b' });
  });

  it('keeps the request description and takes the default version from an ARN without one', async () => {
    await iot.send(
      new CreateJobCommand({
        jobId: 'mt-run',
        targets: [THING],
        description: 'say hello',
        jobTemplateArn: 'arn:aws:iot:us-east-1::jobtemplate/AWS-Run-Command',
        documentParameters: { command: 'echo,hello\\, world', runAsUser: 'nobody' },
      }),
    );
    expect((await iot.send(new DescribeJobCommand({ jobId: 'mt-run' }))).job?.description).toBe('say hello');
    expect(deviceDocument('mt-run')).toEqual({
      version: '1.0',
      steps: [{ action: { name: 'Run-Command', type: 'runCommand', input: { command: 'echo,hello\\, world' }, runAsUser: 'nobody' } }],
    });
  });

  it.each([
    ['a required parameter missing', MANAGED('AWS-Install-Application'), {}, /packages is required/],
    ['a required parameter empty', MANAGED('AWS-Start-Application'), { services: '' }, /services is required/],
    ['a value over its regex', MANAGED('AWS-Reboot'), { runAsUser: 'u'.repeat(257) }, /runAsUser does not match the pattern \(\.\)\{0,256\}/],
    ['a parameter the template does not take', MANAGED('AWS-Run-Command'), { command: 'true', pathToHandler: '/opt' }, /pathToHandler is not a parameter of AWS-Run-Command:1\.0/],
    ['a control character', MANAGED('AWS-Stop-Application'), { services: 'nginx\ncron' }, /control characters/],
  ])('refuses %s with InvalidRequestException', async (_what, arn, documentParameters, message) => {
    const e = await sdkError(iot.send(new CreateJobCommand({ jobId: 'mt-bad', targets: [THING], jobTemplateArn: arn, documentParameters })));
    expect(e).toMatchObject({ name: 'InvalidRequestException', status: 400 });
    expect(e.message).toMatch(message);
    expect(service.describeJob('mt-bad').ok).toBe(false);
  });

  it('refuses a document alongside a template, documentParameters without one, and unknown templates', async () => {
    const withDoc = new CreateJobCommand({ jobId: 'x1', targets: [THING], document: '{}', jobTemplateArn: MANAGED('AWS-Reboot') });
    expect(await sdkError(iot.send(withDoc))).toMatchObject({ name: 'InvalidRequestException', message: expect.stringMatching(/takes its document from the template/) });
    const noTemplate = new CreateJobCommand({ jobId: 'x2', targets: [THING], document: '{}', documentParameters: { a: 'b' } });
    expect(await sdkError(iot.send(noTemplate))).toMatchObject({ name: 'InvalidRequestException', message: expect.stringMatching(/only be used .* AWS managed template/) });
    const unknown = new CreateJobCommand({ jobId: 'x3', targets: [THING], jobTemplateArn: MANAGED('AWS-Teleport') });
    expect(await sdkError(iot.send(unknown))).toMatchObject({ name: 'ResourceNotFoundException', status: 404 });
    const otherRegion = new CreateJobCommand({ jobId: 'x4', targets: [THING], jobTemplateArn: 'arn:aws:iot:eu-west-1::jobtemplate/AWS-Reboot:1.0' });
    expect(await sdkError(iot.send(otherRegion))).toMatchObject({ name: 'ResourceNotFoundException' });
    const notATemplate = new CreateJobCommand({ jobId: 'x5', targets: [THING], jobTemplateArn: 'arn:aws:iot:us-east-1:123456789012:job/j1' });
    expect(await sdkError(iot.send(notATemplate))).toMatchObject({ name: 'InvalidRequestException' });
  });
});

describe('custom job templates', () => {
  const doc = JSON.stringify({ operation: 'exec', command: ['true'] });

  it('creates, describes, lists, pages and deletes', async () => {
    const c = await iot.send(
      new CreateJobTemplateCommand({ jobTemplateId: 'tpl-a', description: 'first', document: doc, timeoutConfig: { inProgressTimeoutInMinutes: 30 } }),
    );
    expect(c).toMatchObject({ jobTemplateId: 'tpl-a', jobTemplateArn: 'arn:aws:iot:us-east-1:123456789012:jobtemplate/tpl-a' });
    const d = await iot.send(new DescribeJobTemplateCommand({ jobTemplateId: 'tpl-a' }));
    expect(d).toMatchObject({ jobTemplateId: 'tpl-a', description: 'first', document: doc, timeoutConfig: { inProgressTimeoutInMinutes: 30 } });
    expect(d.createdAt).toBeInstanceOf(Date);
    await iot.send(new CreateJobTemplateCommand({ jobTemplateId: 'tpl-b', description: 'second', document: doc }));
    const page = await iot.send(new ListJobTemplatesCommand({ maxResults: 1 }));
    expect(page.jobTemplates?.map((t) => t.jobTemplateId)).toEqual(['tpl-a']);
    const next = await iot.send(new ListJobTemplatesCommand({ maxResults: 1, nextToken: page.nextToken }));
    expect(next.jobTemplates?.map((t) => [t.jobTemplateId, t.description])).toEqual([['tpl-b', 'second']]);
    expect(next.nextToken).toBeUndefined();
    await iot.send(new DeleteJobTemplateCommand({ jobTemplateId: 'tpl-b' }));
    expect(await sdkError(iot.send(new DescribeJobTemplateCommand({ jobTemplateId: 'tpl-b' })))).toMatchObject({ name: 'ResourceNotFoundException', status: 404 });
    expect(await sdkError(iot.send(new DeleteJobTemplateCommand({ jobTemplateId: 'tpl-b' })))).toMatchObject({ name: 'ResourceNotFoundException' });
  });

  it.each([
    ['a duplicate id', { jobTemplateId: 'tpl-a', description: 'again', document: doc }, 'ConflictException', 409],
    ['no description', { jobTemplateId: 'tpl-c', document: doc }, 'InvalidRequestException', 400],
    ['no document and no job', { jobTemplateId: 'tpl-c', description: 'd' }, 'InvalidRequestException', 400],
    ['a document that is not JSON', { jobTemplateId: 'tpl-c', description: 'd', document: '{nope' }, 'InvalidRequestException', 400],
    ['documentSource', { jobTemplateId: 'tpl-c', description: 'd', documentSource: 'https://s3.amazonaws.com/b/k' }, 'InvalidRequestException', 400],
    ['a timeout out of range', { jobTemplateId: 'tpl-c', description: 'd', document: doc, timeoutConfig: { inProgressTimeoutInMinutes: 0 } }, 'InvalidRequestException', 400],
    ['an unknown job', { jobTemplateId: 'tpl-c', description: 'd', jobArn: 'arn:aws:iot:us-east-1:123456789012:job/nope' }, 'ResourceNotFoundException', 404],
    ['a bad id', { jobTemplateId: 'bad id!', description: 'd', document: doc }, 'InvalidRequestException', 400],
    // CreateJob's own rules: what a job may not carry, a template may not either.
    ['a retry budget over 10', { jobTemplateId: 'tpl-c', description: 'd', document: doc, jobExecutionsRetryConfig: { criteriaList: [{ failureType: 'FAILED', numberOfRetries: 11 }] } }, 'InvalidRequestException', 400],
    ['a maintenance window that is not a cron expression', { jobTemplateId: 'tpl-c', description: 'd', document: doc, maintenanceWindows: [{ startTime: 'every night', durationInMinutes: 60 }] }, 'InvalidRequestException', 400],
    ['a member the sim does not emulate', { jobTemplateId: 'tpl-c', description: 'd', document: doc, destinationPackageVersions: ['arn:aws:iot:us-east-1:123456789012:package/p/version/1'] }, 'InvalidRequestException', 400],
  ])('refuses %s', async (_what, input, name, status) => {
    expect(await sdkError(iot.send(new CreateJobTemplateCommand(input as never)))).toMatchObject({ name, status });
  });

  it('makes jobs that inherit the document, description and configurations, the request overriding them', async () => {
    const retry = { criteriaList: [{ failureType: 'FAILED' as const, numberOfRetries: 2 }] };
    await iot.send(
      new CreateJobTemplateCommand({
        jobTemplateId: 'tpl-cfg',
        description: 'from the template',
        document: doc,
        timeoutConfig: { inProgressTimeoutInMinutes: 45 },
        jobExecutionsRetryConfig: retry,
      }),
    );
    const arn = 'arn:aws:iot:us-east-1:123456789012:jobtemplate/tpl-cfg';
    const inherited = await iot.send(new CreateJobCommand({ jobId: 'from-tpl', targets: [THING], jobTemplateArn: arn }));
    expect(inherited.description).toBe('from the template');
    const j = (await iot.send(new DescribeJobCommand({ jobId: 'from-tpl' }))).job;
    expect(j).toMatchObject({ jobTemplateArn: arn, timeoutConfig: { inProgressTimeoutInMinutes: 45 } });
    expect(j?.documentParameters).toBeUndefined();
    expect(deviceDocument('from-tpl')).toEqual(JSON.parse(doc));

    await iot.send(
      new CreateJobCommand({ jobId: 'override', targets: [THING], jobTemplateArn: arn, description: 'mine', timeoutConfig: { inProgressTimeoutInMinutes: 5 } }),
    );
    expect((await iot.send(new DescribeJobCommand({ jobId: 'override' }))).job).toMatchObject({ description: 'mine', timeoutConfig: { inProgressTimeoutInMinutes: 5 } });

    // A template made from that job carries what the job was created with.
    await iot.send(
      new CreateJobTemplateCommand({ jobTemplateId: 'tpl-from-job', description: 'copied', jobArn: 'arn:aws:iot:us-east-1:123456789012:job/override' }),
    );
    const copied = await iot.send(new DescribeJobTemplateCommand({ jobTemplateId: 'tpl-from-job' }));
    expect(copied).toMatchObject({ document: doc, timeoutConfig: { inProgressTimeoutInMinutes: 5 }, jobExecutionsRetryConfig: retry });
  });

  it('hands inherited rollout, abort and maintenance-window configurations to the job', async () => {
    const rollout = { maximumPerMinute: 5 };
    const abort = { criteriaList: [{ failureType: 'FAILED' as const, action: 'CANCEL' as const, thresholdPercentage: 50, minNumberOfExecutedThings: 1 }] };
    const windows = [{ startTime: 'cron(0 2 * * ? *)', durationInMinutes: 60 }];
    await iot.send(
      new CreateJobTemplateCommand({ jobTemplateId: 'tpl-rollout', description: 'paced', document: doc, jobExecutionsRolloutConfig: rollout, abortConfig: abort, maintenanceWindows: windows }),
    );
    await iot.send(new CreateJobCommand({ jobId: 'paced', targets: [THING], jobTemplateArn: 'arn:aws:iot:us-east-1:123456789012:jobtemplate/tpl-rollout' }));
    const j = (await iot.send(new DescribeJobCommand({ jobId: 'paced' }))).job;
    expect(j).toMatchObject({ jobExecutionsRolloutConfig: rollout, abortConfig: abort, schedulingConfig: { maintenanceWindows: windows } });
  });

  it('hands an inherited retry configuration to the code that applies it: a FAILED execution comes back as #2', async () => {
    const arn = 'arn:aws:iot:us-east-1:123456789012:jobtemplate/tpl-cfg';
    await iot.send(new CreateJobCommand({ jobId: 'retried', targets: [THING], jobTemplateArn: arn }));
    expect(service.httpUpdate('thing1', 'retried', { status: 'IN_PROGRESS' }).ok).toBe(true);
    expect(service.httpUpdate('thing1', 'retried', { status: 'FAILED' }).ok).toBe(true);
    const again = await iot.send(new DescribeJobExecutionCommand({ jobId: 'retried', thingName: 'thing1' }));
    expect(again.execution).toMatchObject({ executionNumber: 2, status: 'QUEUED' });
  });

  it('refuses documentParameters with a custom template, and a deleted template; jobs made before keep running', async () => {
    await iot.send(new CreateJobTemplateCommand({ jobTemplateId: 'tpl-gone', description: 'd', document: doc }));
    const arn = 'arn:aws:iot:us-east-1:123456789012:jobtemplate/tpl-gone';
    const params = new CreateJobCommand({ jobId: 'p1', targets: [THING], jobTemplateArn: arn, documentParameters: { a: 'b' } });
    expect(await sdkError(iot.send(params))).toMatchObject({ name: 'InvalidRequestException', message: expect.stringMatching(/is a custom template/) });
    await iot.send(new CreateJobCommand({ jobId: 'before-delete', targets: [THING], jobTemplateArn: arn }));
    await iot.send(new DeleteJobTemplateCommand({ jobTemplateId: 'tpl-gone' }));
    expect(await sdkError(iot.send(new CreateJobCommand({ jobId: 'after-delete', targets: [THING], jobTemplateArn: arn })))).toMatchObject({
      name: 'ResourceNotFoundException',
    });
    expect((await iot.send(new DescribeJobCommand({ jobId: 'before-delete' }))).job?.status).toBe('IN_PROGRESS');
    expect(deviceDocument('before-delete')).toEqual(JSON.parse(doc));
  });
});
