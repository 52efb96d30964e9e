/** Unit, integration and e2e tests; e2e spawn the built CLI from dist/ (npm test builds first). */
const fs = require('node:fs');
const path = require('node:path');

// Built-in handlers keep their tests beside them; git does not keep empty folders, so only list roots that exist.
const roots = ['test', 'handlers'].filter((d) => fs.existsSync(path.join(__dirname, d))).map((d) => `<rootDir>/${d}`);

module.exports = {
  testEnvironment: 'node',
  roots,
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.[tj]s$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.jest.json'}],
  },
  // p-queue and its helpers ship ESM only: let ts-jest turn them into CommonJS.
  transformIgnorePatterns: ['/node_modules/(?!(p-queue|p-timeout|eventemitter3)/)'],
  testTimeout: 60000,
  reporters: ['default', ['<rootDir>/test/support/count-reporter.js', {}]],
  maxWorkers: 2,
};
