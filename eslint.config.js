// Lint: type-aware rules that catch what review misses, plus the import direction of docs/ARCHITECTURE.md §2.
const tseslint = require('typescript-eslint');
const importX = require('eslint-plugin-import-x');

// module -> modules it may import (besides itself). Everything else under src/ is off limits.
const layers = {
  cli: ['agent', 'identity', 'handlers', 'jobs', 'store', 'transport', 'net', 'config', 'sim', 'trust', 'lib', 'index.ts'],
  agent: ['identity', 'jobs', 'handlers', 'store', 'transport', 'net', 'config', 'trust', 'lib'],
  identity: ['transport', 'net', 'config', 'lib'],
  handlers: ['net', 'lib', 'config'],
  jobs: ['transport', 'net', 'lib'],
  store: ['lib'],
  transport: ['net', 'config', 'lib'],
  net: ['config', 'lib'],
  config: ['lib'],
  sim: ['jobs', 'lib'],
  trust: ['lib'],
  lib: [],
};
const all = Object.keys(layers);
const zones = all.map((mod) => ({
  target: `./src/${mod}`,
  from: './src',
  except: [`./${mod}`, ...layers[mod].map((m) => `./${m}`)],
  message: `src/${mod} may import only: ${layers[mod].join(', ') || 'nothing'} (docs/ARCHITECTURE.md §2).`,
}));
// Inside src/sim imports point down docs/ARCHITECTURE.md's list: start.ts → fronts/ → service.ts,
// runtime.ts, clock.ts, identity.ts, register-thing.ts → jobs/ → registry/ → model.ts, types.ts.
const simTop = ['./src/sim/start.ts'];
const simFacade = ['./src/sim/service.ts', './src/sim/runtime.ts', './src/sim/clock.ts', './src/sim/identity.ts', './src/sim/register-thing.ts'];
const simLayers = [
  { target: './src/sim/fronts', above: simTop },
  { target: simFacade, above: [...simTop, './src/sim/fronts'] },
  { target: './src/sim/jobs', above: [...simTop, './src/sim/fronts', ...simFacade] },
  { target: './src/sim/registry', above: [...simTop, './src/sim/fronts', ...simFacade, './src/sim/jobs'] },
  { target: ['./src/sim/model.ts', './src/sim/types.ts'], above: [...simTop, './src/sim/fronts', ...simFacade, './src/sim/jobs', './src/sim/registry'] },
];
for (const { target, above } of simLayers) {
  for (const from of above) {
    zones.push({ target, from, message: `src/sim: ${[target].flat().join(', ')} may not import ${from} (imports point down the list in docs/ARCHITECTURE.md).` });
  }
}
// Built-in handlers see only the public handler contract.
zones.push({
  target: './handlers',
  from: './src',
  except: ['./handlers/api.ts', './index.ts'],
  message: 'handlers/ may import only src/handlers/api (docs/ARCHITECTURE.md §2).',
});

module.exports = tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '**/*.js', '**/*.mjs', 'bench/results/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: __dirname },
    },
    plugins: { 'import-x': importX },
    settings: { 'import-x/resolver-next': [importX.createNodeResolver({ extensions: ['.ts', '.js', '.json'] })] },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'import-x/no-cycle': 'error',
      'import-x/no-restricted-paths': ['error', { zones }],
    },
  },
  {
    files: ['test/**/*.ts', '**/*.test.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
);
