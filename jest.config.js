/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
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
