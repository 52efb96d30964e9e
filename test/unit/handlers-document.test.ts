import { chmodSync, mkdtempSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chooseHandler, DEVICE_CLIENT_HANDLER, parseDeviceClientDocument, splitCommand, type ParseOptions } from '../../src/handlers/document';
import { MANAGED_HANDLERS } from '../../src/handlers/managed';
import { RejectError } from '../../src/handlers/errors';
import type { JobHandler } from '../../src/handlers/api';

const BUILTINS = ['exec', 'download-file', 'install-packages', 'remove-packages', 'verify-packages-installed', 'verify-packages-removed', 'start-services', 'stop-services', 'restart-services', 'reboot', 'shutdown', 'health-check'];
const opts: ParseOptions = { scriptDirectories: [], available: (n) => BUILTINS.includes(n) };
const fixtures = path.resolve(__dirname, '..', 'fixtures', 'device-client');
const load = (name: string): unknown => JSON.parse(readFileSync(path.join(fixtures, name), 'utf8'));

describe('Device Client documents', () => {
  it('every managed script maps to a built-in we ship', () => {
    for (const m of Object.values(MANAGED_HANDLERS)) expect(BUILTINS).toContain(m.builtin);
    const shipped = readdirSync(path.resolve(__dirname, '..', '..', 'handlers')).filter((d) => !d.startsWith('_') && !d.includes('.'));
    for (const b of BUILTINS) expect(shipped).toContain(b);
  });

  it.each([
    ['aws-run-command.json', [{ type: 'command', argv: ['echo', 'Hello, I am the agent.'] }]],
    [
      'aws-download-file.json',
      [
        {
          type: 'builtin',
          handler: 'download-file',
          document: {
            operation: 'download-file',
            url: expect.stringMatching(/^https:\/\/example-bucket\.s3\.eu-west-1\.amazonaws\.com\/firmware\/v2\.bin\?X-Amz-Algorithm=.*X-Amz-Signature=0123abcd$/),
            path: '/var/lib/firmware/v2.bin',
          },
        },
      ],
    ],
    ['aws-install-application.json', [{ type: 'builtin', handler: 'install-packages', document: { operation: 'install-packages', packages: 'curl jq' } }]],
    ['aws-remove-application.json', [{ type: 'builtin', handler: 'remove-packages', document: { operation: 'remove-packages', packages: 'telnet' } }]],
    ['aws-restart-application.json', [{ type: 'builtin', handler: 'restart-services', document: { operation: 'restart-services', services: 'nginx cron' } }]],
    ['aws-start-application.json', [{ type: 'builtin', handler: 'start-services', document: { operation: 'start-services', services: 'nginx' } }]],
    ['aws-stop-application.json', [{ type: 'builtin', handler: 'stop-services', document: { operation: 'stop-services', services: 'nginx' } }]],
    ['aws-reboot.json', [{ type: 'builtin', handler: 'reboot', document: { operation: 'reboot' } }]],
    [
      'dc-install-download-remove.json',
      [
        { type: 'builtin', handler: 'install-packages', document: { operation: 'install-packages', packages: 'wget' } },
        { type: 'builtin', handler: 'download-file', document: { operation: 'download-file', url: expect.stringContaining('v1.3.tar.gz'), path: '/tmp/Downloaded_File.tar.gz' } },
        { type: 'builtin', handler: 'remove-packages', document: { operation: 'remove-packages', packages: 'wget' } },
      ],
    ],
    [
      'dc-command-steps.json',
      [
        { type: 'command', argv: ['echo', 'Hello World!'] },
        { type: 'builtin', handler: 'health-check', document: { operation: 'health-check' } },
        { type: 'builtin', handler: 'verify-packages-installed', document: { operation: 'verify-packages-installed', packages: 'curl' } },
      ],
    ],
    ['dc-legacy-install-packages.json', [{ type: 'builtin', handler: 'install-packages', document: { operation: 'install-packages', packages: 'lftp dos2unix' } }]],
    ['dc-legacy-shutdown.json', [{ type: 'builtin', handler: 'shutdown', document: { operation: 'shutdown' } }]],
    ['dc-shell-command.json', [{ type: 'builtin', handler: 'exec', document: { operation: 'exec', command: ['ls', '-l', '/tmp'] } }]],
  ])('%s runs on our built-ins with no script directory', async (file, actions) => {
    const doc = load(file);
    expect(chooseHandler(doc, new Map(BUILTINS.concat(DEVICE_CLIENT_HANDLER).map((n) => [n, {} as JobHandler<never>])))).toEqual({ handler: DEVICE_CLIENT_HANDLER });
    const plan = await parseDeviceClientDocument(doc, opts);
    const steps = plan.finalStep ? [...plan.steps, plan.finalStep] : plan.steps;
    expect(steps.map((s) => s.action)).toEqual(actions);
  });

  it('reads the step flags the way the Device Client does', async () => {
    const plan = await parseDeviceClientDocument(load('dc-command-steps.json'), opts);
    expect(plan.steps[0]).toMatchObject({ name: 'print-greeting', runAsUser: 'nobody', ignoreStepFailure: true, includeStdOut: true });
    expect(plan.steps[1]).toMatchObject({ name: 'check-health', ignoreStepFailure: false, runAsUser: undefined });
    expect(plan.finalStep?.name).toBe('verify');
    const legacy = await parseDeviceClientDocument(load('dc-legacy-install-packages.json'), opts);
    expect(legacy).toMatchObject({ form: 'legacy', steps: [{ allowStdErr: 2, includeStdOut: false }] });
    const restart = await parseDeviceClientDocument(load('aws-restart-application.json'), opts);
    expect(restart.steps[0]?.runAsUser).toBe('root');
  });

  it.each([
    ['a,b,c', ['a', 'b', 'c']],
    ['echo,Hello\\, I am here.', ['echo', 'Hello, I am here.']],
    ['printf,%s\\n,x', ['printf', '%s\\n', 'x']],
    ['ls,,x', ['ls', '', 'x']],
    ['single', ['single']],
  ])('splits command %j', (command, argv) => {
    expect(splitCommand(command)).toEqual(argv);
  });

  describe('script directories', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'scripts-'));
    const dir = path.join(root, 'jobs');
    mkdirSync(dir, { mode: 0o755 });
    const script = (name: string, mode = 0o755): void => {
      writeFileSync(path.join(dir, name), '#!/bin/sh\necho "[$1]" "$2"\n');
      chmodSync(path.join(dir, name), mode);
    };
    script('hello.sh');
    script('open.sh', 0o777);
    script('install-packages.sh');
    script('noexec.sh', 0o644);
    const withDir: ParseOptions = { ...opts, scriptDirectories: [dir] };
    const step = (input: Record<string, unknown>) => ({ version: '1.0', steps: [{ action: { name: 's', type: 'runHandler', input } }] });

    it('runs scripts found in a configured directory, also overriding a managed name', async () => {
      await expect(parseDeviceClientDocument(step({ handler: 'hello.sh', args: ['x'] }), withDir)).resolves.toMatchObject({
        steps: [{ action: { type: 'script', file: path.join(dir, 'hello.sh'), args: ['x'] } }],
      });
      await expect(parseDeviceClientDocument(step({ handler: 'hello.sh', path: dir + '/' }), withDir)).resolves.toMatchObject({ steps: [{ action: { type: 'script' } }] });
      await expect(parseDeviceClientDocument(step({ handler: 'install-packages.sh', args: ['a'] }), withDir)).resolves.toMatchObject({
        steps: [{ action: { type: 'script', file: path.join(dir, 'install-packages.sh') } }],
      });
    });

    it.each([
      [{ handler: 'hello.sh', path: root }, `path ${root} is not a configured script directory`],
      [{ handler: 'hello.sh', path: '/usr/bin' }, 'is not a configured script directory'],
      [{ handler: '../jobs/hello.sh' }, 'must be a plain file name'],
      [{ handler: 'sub/hello.sh' }, 'must be a plain file name'],
      [{ handler: '..' }, 'must be a plain file name'],
      [{ handler: 'a\u0000b' }, 'must be a plain file name'],
      [{ handler: 'open.sh' }, 'writable by group or others'],
      [{ handler: 'noexec.sh' }, 'not executable'],
      [{ handler: 'missing.sh' }, 'not found in the script directories'],
      [{ handler: 'hello.sh', args: 'x' }, 'args must be an array of strings'],
      [{ handler: 'download-file.sh', args: ['${aws:iot:parameter:downloadUrl}', '/tmp/x'] }, 'unresolved placeholder'],
    ])('rejects %j', async (input, reason) => {
      const p = parseDeviceClientDocument(step(input), withDir);
      await expect(p).rejects.toBeInstanceOf(RejectError);
      await expect(p).rejects.toThrow(reason);
    });

    it('uses the built-in for a managed name when path names an unconfigured directory', async () => {
      await expect(parseDeviceClientDocument(step({ handler: 'reboot.sh', path: '/home/ubuntu/jobs' }), withDir)).resolves.toMatchObject({
        steps: [{ action: { type: 'builtin', handler: 'reboot' } }],
      });
    });
  });

  it.each([
    [[], 'must be a JSON object'],
    [{ version: '2.0', steps: [] }, 'unsupported Device Client document version'],
    [{ version: '1.0', steps: [] }, 'steps must be a non-empty array'],
    [{ version: '1.0', steps: [{ action: { type: 'runScript', input: {} } }] }, 'must be runHandler or runCommand'],
    [{ version: '1.0', steps: [{ action: { type: 'runCommand', input: { command: 'bad program,x' } } }] }, 'without spaces'],
    [{ version: '1.0', steps: [{ action: { type: 'runCommand', input: { command: 'ls' }, ignoreStepFailure: 'yes' } }] }, 'ignoreStepFailure'],
    [{ version: '1.0', steps: [{ action: { type: 'runCommand', input: { command: 'ls' }, allowStdErr: -1 } }] }, 'allowStdErr'],
    [{ version: '1.0', steps: [{ action: { type: 'runCommand', input: { command: 'ls' }, runAsUser: '${aws:iot:parameter:runAsUser}' } }] }, 'unresolved placeholder'],
    [{ operation: 'echo', args: ['hi'] }, 'not found in the script directories'],
  ])('rejects %j', async (doc, reason) => {
    await expect(parseDeviceClientDocument(doc, opts)).rejects.toThrow(reason);
  });

  it('chooses a handler by operation, else the Device Client forms', () => {
    const map = new Map<string, JobHandler<never>>([['exec', {} as JobHandler<never>], [DEVICE_CLIENT_HANDLER, {} as JobHandler<never>]]);
    expect(chooseHandler({ operation: 'exec', command: ['ls'] }, map)).toEqual({ handler: 'exec' });
    expect(chooseHandler({ operation: 'install-packages.sh', args: ['x'] }, map)).toEqual({ handler: DEVICE_CLIENT_HANDLER });
    expect(chooseHandler({ operation: 'my-script.sh' }, map)).toEqual({ handler: DEVICE_CLIENT_HANDLER });
    expect(chooseHandler({ operation: 'frobnicate' }, map)).toEqual({ reject: 'no handler for operation "frobnicate"' });
    expect(chooseHandler({ hello: 1 }, map)).toEqual({ reject: expect.stringContaining('no "operation"') });
    expect(chooseHandler('x', map)).toEqual({ reject: 'the job document must be a JSON object' });
    expect(chooseHandler({ steps: [] }, new Map())).toEqual({ reject: 'Device Client documents are not enabled' });
  });
});
