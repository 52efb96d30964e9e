/**
 * The config schema as the build precompiles it (packaging/schema-validator.ts) validates exactly as
 * the schema compiled at run time: same verdicts, same errors, same defaults filled in.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Ajv, { type ErrorObject } from 'ajv';
import { schemaValidatorSource } from '../../packaging/schema-validator';
import { AJV_OPTIONS, agentSchema } from '../../src/config/validate';

type Validate = ((d: unknown) => boolean) & { errors?: ErrorObject[] | null };

const example = JSON.parse(readFileSync(join(__dirname, '..', '..', 'config', 'agent.example.json'), 'utf8')) as Record<string, Record<string, unknown>>;
const CASES: [string, unknown][] = [
  ['the example', example],
  ['a wrong type and an unknown key', { ...example, mqtt: { ...example.mqtt, port: 'eighty', endpont: 'x' } }],
  ['a missing thing name', { ...example, thingName: undefined }],
  ['a bad enum', { ...example, log: { level: 'loud' } }],
  ['not an object', 42],
];

let dir: string;
let precompiled: Validate;
const runtime = new Ajv(AJV_OPTIONS).compile(agentSchema) as Validate;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'schema-validator-'));
  const file = join(dir, 'agent-schema.validate.js');
  writeFileSync(file, schemaValidatorSource());
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  precompiled = require(file) as Validate;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('is one module with no imports (it loaded above from a directory with no node_modules)', () => {
  expect(typeof precompiled).toBe('function');
  const source = readFileSync(join(dir, 'agent-schema.validate.js'), 'utf8');
  // Calls only: ajv's helpers also carry their own source as a string ('require("ajv/…")').
  expect(source).not.toMatch(/[=(,;]\s*require\(/);
});

const shape = (e: ErrorObject) => ({ path: e.instancePath, keyword: e.keyword, params: e.params, message: e.message, schemaPath: e.schemaPath });

it.each(CASES)('agrees with the run-time compile on %s', (_name, input) => {
  const a = structuredClone(input);
  const b = structuredClone(input);
  expect(precompiled(a)).toBe(runtime(b));
  expect((precompiled.errors ?? []).map(shape)).toEqual((runtime.errors ?? []).map(shape));
  expect(a).toEqual(b);
});
