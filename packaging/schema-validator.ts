/**
 * Build step: the config schema as standalone validation code (ajv's standalone output, bundled
 * with its few runtime helpers into one file with no imports), written beside the compiled
 * src/config/validate.js, which loads it instead of compiling the schema at every start.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import Ajv from 'ajv';
import standaloneCode from 'ajv/dist/standalone';
import { buildSync } from 'esbuild';
import { AJV_OPTIONS, agentSchema } from '../src/config/validate';

/** One CommonJS module whose export is the validate function. */
export function schemaValidatorSource(): string {
  const ajv = new Ajv({ ...AJV_OPTIONS, code: { source: true, esm: false } });
  const code = standaloneCode(ajv, ajv.compile(agentSchema));
  const out = buildSync({
    stdin: { contents: code, resolveDir: path.dirname(require.resolve('ajv/package.json')), loader: 'js' },
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    write: false,
    logLevel: 'warning',
  });
  const text = out.outputFiles[0]?.text;
  if (text === undefined) throw new Error('esbuild produced no output for the schema validator');
  return `// Generated from config/agent.schema.json by packaging/schema-validator.ts at build time.\n${text}`;
}

if (require.main === module) {
  const target = path.join(__dirname, '..', 'src', 'config', 'agent-schema.validate.js');
  writeFileSync(target, schemaValidatorSource());
}
