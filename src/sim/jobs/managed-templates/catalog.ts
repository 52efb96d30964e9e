/**
 * The AWS managed job templates as AWS publishes them: name, version, environments, the job
 * document (its structure is exact — the AWS IoT Device Client and our Device Client support parse
 * it) and the document parameters with their regex and optional flag. The parameter and template
 * descriptions are this project's own wording. Where AWS does not publish a parameter's regex the
 * reading taken is listed in docs/TEMPLATES.md.
 */

export interface ManagedParameter {
  readonly key: string;
  readonly description: string;
  /** Java-style pattern the whole value must match (docs/TEMPLATES.md §3). */
  readonly regex: string;
  readonly example: string;
  readonly optional: boolean;
}

export interface ManagedTemplate {
  readonly name: string;
  readonly version: string;
  readonly description: string;
  readonly environments: readonly string[];
  readonly parameters: readonly ManagedParameter[];
  /** The document with its `${aws:iot:parameter:KEY}` placeholders, as a JSON value. */
  readonly document: unknown;
}

const P = (key: string): string => `\${aws:iot:parameter:${key}}`;

const RUN_AS_USER: ManagedParameter = {
  key: 'runAsUser',
  description: 'User the handler runs as; empty runs it as the agent itself.',
  regex: '(.){0,256}',
  example: 'user1',
  optional: true,
};

const PATH_TO_HANDLER: ManagedParameter = {
  key: 'pathToHandler',
  description: 'Directory of the handler script on the device; empty uses the default location.',
  regex: '(.){0,4096}',
  example: '/path/to/handler/script',
  optional: true,
};

const required = (key: string, description: string, example: string): ManagedParameter => ({
  key,
  description,
  regex: '(.*?)',
  example,
  optional: false,
});

/** One runHandler step naming a Device Client handler script, in the published key order. */
function handlerDocument(step: string, handler: string, args: readonly string[] | undefined): unknown {
  const input: Record<string, unknown> = { handler };
  if (args !== undefined) input.args = args.map(P);
  input.path = P('pathToHandler');
  return { version: '1.0', steps: [{ action: { name: step, type: 'runHandler', input, runAsUser: P('runAsUser') } }] };
}

function handlerTemplate(o: {
  name: string;
  description: string;
  step: string;
  handler: string;
  params: readonly ManagedParameter[];
}): ManagedTemplate {
  const args = o.params.length === 0 ? undefined : o.params.map((p) => p.key);
  return {
    name: o.name,
    version: '1.0',
    description: o.description,
    environments: ['LINUX'],
    parameters: [...o.params, RUN_AS_USER, PATH_TO_HANDLER],
    document: handlerDocument(o.step, o.handler, args),
  };
}

const PACKAGES = (verb: string): ManagedParameter => required('packages', `Space-separated names of the packages to ${verb}.`, 'curl jq');
const SERVICES = (verb: string): ManagedParameter => required('services', `Space-separated names of the services to ${verb}.`, 'nginx cron');

export const MANAGED_TEMPLATES: readonly ManagedTemplate[] = Object.freeze([
  handlerTemplate({
    name: 'AWS-Download-File',
    description: 'Downloads a file to the device.',
    step: 'Download-File',
    handler: 'download-file.sh',
    params: [
      required('downloadUrl', 'URL to fetch the file from (public, or a presigned S3 URL).', 'https://example.com/index.html'),
      required('filePath', 'Where on the device the downloaded file is written.', '/path/to/file'),
    ],
  }),
  handlerTemplate({
    name: 'AWS-Install-Application',
    description: 'Installs one or more packages.',
    step: 'Install-Application',
    handler: 'install-packages.sh',
    params: [PACKAGES('install')],
  }),
  handlerTemplate({ name: 'AWS-Reboot', description: 'Reboots the device.', step: 'Reboot', handler: 'reboot.sh', params: [] }),
  handlerTemplate({
    name: 'AWS-Remove-Application',
    description: 'Removes one or more packages.',
    step: 'Remove-Application',
    handler: 'remove-packages.sh',
    params: [PACKAGES('remove')],
  }),
  handlerTemplate({
    name: 'AWS-Restart-Application',
    description: 'Restarts one or more system services.',
    step: 'Restart-Application',
    handler: 'restart-services.sh',
    params: [SERVICES('restart')],
  }),
  {
    name: 'AWS-Run-Command',
    version: '1.0',
    description: 'Runs a command on the device.',
    environments: ['LINUX'],
    // No pathToHandler: runCommand names no script.
    parameters: [
      required('command', 'The command and its arguments separated by commas; a comma inside an argument is written \\,.', 'echo,hello'),
      RUN_AS_USER,
    ],
    document: {
      version: '1.0',
      steps: [{ action: { name: 'Run-Command', type: 'runCommand', input: { command: P('command') }, runAsUser: P('runAsUser') } }],
    },
  },
  handlerTemplate({
    name: 'AWS-Start-Application',
    description: 'Starts one or more system services.',
    step: 'Start-Application',
    handler: 'start-services.sh',
    params: [SERVICES('start')],
  }),
  handlerTemplate({
    name: 'AWS-Stop-Application',
    description: 'Stops one or more system services.',
    step: 'Stop-Application',
    handler: 'stop-services.sh',
    params: [SERVICES('stop')],
  }),
]);
