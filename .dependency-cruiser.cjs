// The layering rule (README: Layout). Layers only point down:
//   main.ts -> app/ -> constructs/ -> rules/, contract/
//   config/ -> rules/        deployer/ -> contract/, rules/        contract/ -> rules/
// __tests__/layering/layering.test.ts (run by `npm test`) checks the tree with it and shows that each rule bites.
// Paths are relative to where depcruise runs, so the test can run the same rules on small fixture trees.

/** A folder's own files, and nothing above it. */
const under = (...folders) => `^(${folders.join('|')})/`;

module.exports = {
  forbidden: [
    {
      name: 'library-knows-no-app',
      comment: 'constructs/ is a reusable library: it never imports the app, its config or the deployer.',
      severity: 'error',
      from: { path: under('constructs') },
      to: { path: `${under('app', 'config', 'deployer', 'scripts', 'serving-image')}|^main\\.ts$` },
    },
    {
      name: 'config-only-rules',
      comment: 'config/ validates stacks.yaml with the shared rules; it builds no constructs.',
      severity: 'error',
      from: { path: under('config') },
      to: { path: `${under('app', 'constructs', 'contract', 'deployer', 'scripts', 'serving-image')}|^main\\.ts$` },
    },
    {
      name: 'deployer-only-contract-and-rules',
      comment: 'The deployer runs inside terraform apply: it reads the manifest contract, never the constructs.',
      severity: 'error',
      from: { path: under('deployer') },
      to: { path: `${under('app', 'config', 'constructs', 'scripts', 'serving-image')}|^main\\.ts$` },
    },
    {
      name: 'contract-only-rules',
      comment: 'The synth -> deployer contract depends on nothing but the shared rules.',
      severity: 'error',
      from: { path: under('contract') },
      to: { path: `${under('app', 'config', 'constructs', 'deployer', 'scripts', 'serving-image')}|^main\\.ts$` },
    },
    {
      name: 'rules-are-pure',
      comment: 'rules/ is data and pure functions: no other layer, no cdktf.',
      severity: 'error',
      from: { path: under('rules') },
      to: {
        path: `${under('app', 'config', 'constructs', 'contract', 'deployer', 'scripts', 'serving-image')}|^main\\.ts$|(^|/)node_modules/(cdktf|@cdktf|constructs)/`,
      },
    },
    {
      name: 'app-only-from-main',
      comment: 'app/ is the composition root: only main.ts builds it.',
      severity: 'error',
      from: { path: '^', pathNot: `${under('app')}|^main\\.ts$` },
      to: { path: under('app') },
    },
    {
      name: 'private-stays-in-its-folder',
      comment: 'A private/ folder is private to the top-level folder it stands in.',
      severity: 'error',
      from: { path: '^([^/]+)/' },
      to: { path: '/private/', pathNot: '^$1/' },
    },
    {
      name: 'cdktf-in-one-place',
      comment: 'Only constructs/cdk.ts names the cdktf packages, so a move to the fork (cdktn) changes one file.',
      severity: 'error',
      from: { pathNot: '^constructs/cdk\\.ts$' },
      to: { path: '(^|/)node_modules/(cdktf|@cdktf)/' },
    },
    {
      name: 'server-stands-alone',
      comment: 'serving-image/ is its own Docker build context: it imports nothing outside itself.',
      severity: 'error',
      from: { path: under('serving-image') },
      to: { path: '^', pathNot: `${under('serving-image')}|(^|/)node_modules/` },
    },
    {
      name: 'engine-knows-no-http',
      comment: 'The inference engine raises domain errors; only the HTTP layer knows statuses.',
      severity: 'error',
      from: { path: '^serving-image/src/engine/' },
      to: { path: '(^|/)node_modules/(fastify|@fastify|light-my-request)/|^serving-image/src/(app|routes|http)' },
    },
    {
      name: 'no-circular',
      comment: "Type-only imports may go both ways (an endpoint and its deployments know each other's types).",
      severity: 'error',
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
  ],
  options: {
    includeOnly:
      '^(main\\.ts|app|config|constructs|contract|deployer|rules|scripts|serving-image/src)(/|$)|node_modules/(cdktf|@cdktf|constructs|fastify|@fastify)/',
    exclude: { path: '(^|/)(__tests__|cdktf\\.out|dist)/' },
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.json'] },
  },
};
