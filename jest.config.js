/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  // The serving-image tests start servers and worker threads, and the Terraform integration test
  // runs terraform and ts-node beside them: on a loaded 2-core machine a test that takes 1 s alone
  // can take several. Jest's 5 s default then fails sound tests.
  testTimeout: 30_000,
  roots: ['<rootDir>/__tests__'],
  testMatch: ['**/*.test.ts'],
  // swc strips types without checking them (fast on 2 cores); `npm run typecheck` checks them.
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }],
    // fastify's inject (light-my-request) requires cookie 2, which ships only as ESM; jest's CommonJS
    // runtime cannot require ESM on Node 20, so compile that one package to CommonJS.
    '/node_modules/cookie/.+\\.js$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  transformIgnorePatterns: ['/node_modules/(?!cookie/)'],
  reporters: ['default', '<rootDir>/__tests__/helpers/summary-reporter.js'],
  setupFilesAfterEnv: ['<rootDir>/__tests__/setup.ts'],
  // The serving image's inference workers are worker_threads, which load compiled JavaScript: build it first.
  globalSetup: '<rootDir>/__tests__/serving-image/global-setup.ts',
  modulePathIgnorePatterns: ['<rootDir>/cdktf.out', '<rootDir>/serving-image/dist'],
  cacheDirectory: '<rootDir>/.cache/jest',
};
