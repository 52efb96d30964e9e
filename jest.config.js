/** Unit, integration and e2e tests; e2e spawn the built CLI from dist/ (npm test builds first). */
const fs = require('node:fs');
const path = require('node:path');

// Built-in handlers keep their tests beside them; git does not keep empty folders, so only list roots that exist.
const roots = ['test', 'handlers'].filter((d) => fs.existsSync(path.join(__dirname, d))).map((d) => `<rootDir>/${d}`);

const common = {
  testEnvironment: 'node',
  roots,
  transform: {
    '^.+\\.[tj]s$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.jest.json' }],
  },
  // p-queue and its helpers ship ESM only: let ts-jest turn them into CommonJS.
  transformIgnorePatterns: ['/node_modules/(?!(p-queue|p-timeout|eventemitter3|canonicalize|jose)/)'],
};

// The agent's end-to-end suite runs once more with every agent on the aws-crt transport, so both
// transports are proven by the same tests (test/support/agent-proc.ts reads TEST_AGENT_TRANSPORT).
const AGENT_SUITE = ['agent-run', 'agent-recovery', 'agent-recreated-job', 'agent-timeouts', 'agent-alt-readings'].map((n) => `<rootDir>/test/e2e/${n}.test.ts`);

module.exports = {
  projects: [
    { ...common, displayName: 'mqtt.js', testMatch: ['**/*.test.ts'] },
    { ...common, displayName: 'aws-crt', testMatch: AGENT_SUITE, setupFiles: ['<rootDir>/test/support/crt-suite-env.js'] },
  ],
  testTimeout: 60000,
  reporters: ['default', ['<rootDir>/test/support/count-reporter.js', {}]],
  maxWorkers: 2,
};
