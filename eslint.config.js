// Lint: type-aware rules that catch what review misses, plus the import direction of docs/ARCHITECTURE.md §2.
const tseslint = require('typescript-eslint');
const importX = require('eslint-plugin-import-x');

// module -> modules it may import (besides itself). Everything else under src/ is off limits.
const layers = {
  cli: ['agent', 'handlers', 'jobs', 'store', 'transport', 'net', 'config', 'sim', 'lib', 'index.ts'],
  agent: ['jobs', 'handlers', 'store', 'transport', 'net', 'config', 'lib'],
  handlers: ['net', 'lib', 'config'],
  jobs: ['transport', 'net', 'lib'],
  store: ['lib'],
  transport: ['net', 'config', 'lib'],
  net: ['config', 'lib'],
  config: ['lib'],
  sim: ['jobs', 'lib'],
  lib: [],
};
const all = Object.keys(layers);
const zones = all.map((mod) => ({
  target: `./src/${mod}`,
  from: './src',
  except: [`./${mod}`, ...layers[mod].map((m) => `./${m}`)],
  message: `src/${mod} may import only: ${layers[mod].join(', ') || 'nothing'} (docs/ARCHITECTURE.md §2).`,
}));
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
