/** Unit, integration and e2e tests; e2e spawn the built CLI from dist/ (npm test builds first). */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test', '<rootDir>/handlers'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.[tj]s$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.jest.json', isolatedModules: true }],
  },
  // p-queue and its helpers ship ESM only: let ts-jest turn them into CommonJS.
  transformIgnorePatterns: ['/node_modules/(?!(p-queue|p-timeout|eventemitter3)/)'],
  testTimeout: 60000,
  reporters: ['default', ['<rootDir>/test/support/count-reporter.js', {}]],
  maxWorkers: 2,
};
