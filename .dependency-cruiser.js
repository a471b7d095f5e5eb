// Dependency rules (run by `npm run depcruise`, part of `npm test`).
// The pure libraries are the functional core: they import no framework, no I/O and no shell library.
// The clock/randomness half of purity is ESLint's (eslint.config.mjs); scripts/check-domain-purity.mjs backs both.
const PURE = '^libs/(domain|matching|rulebook)/src/';
const SHELL_LIBS = '^libs/(kafka|persistence|platform|runtime)/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-domain-to-infra-deps',
      comment:
        'A pure library (libs/domain, libs/matching, libs/rulebook) imports nothing of the shell: no NestJS, kafkajs, TypeORM, pg, node I/O, shell library or app.',
      severity: 'error',
      from: { path: PURE, pathNot: '\\.spec\\.ts$' },
      to: {
        dependencyTypesNot: ['type-only'],
        path: [SHELL_LIBS, '^apps/', '(^|/)node_modules/(@nestjs|kafkajs|typeorm|pg|pg-[^/]+|@types/pg|fastify|pino|prom-client|reflect-metadata|rxjs)(/|$)'],
      },
    },
    {
      name: 'no-domain-to-node-core',
      comment: 'A pure library uses no node core module (fs, net, http, crypto, child_process, …): those are I/O, clock or randomness.',
      severity: 'error',
      from: { path: PURE, pathNot: '\\.spec\\.ts$' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'no-domain-types-from-shell',
      comment: 'Not even a type of the shell leaks into the core.',
      severity: 'error',
      from: { path: PURE, pathNot: '\\.spec\\.ts$' },
      to: { dependencyTypes: ['type-only'], path: [SHELL_LIBS, '^apps/', '(^|/)node_modules/(@nestjs|kafkajs|typeorm|pg)(/|$)'] },
    },
    {
      name: 'no-app-to-app',
      comment: 'Services talk over Kafka, not through each other’s code: an app never imports another app.',
      severity: 'error',
      from: { path: '^apps/([^/]+)/' },
      to: { path: '^apps/', pathNot: '^apps/$1/' },
    },
    {
      name: 'no-lib-to-app',
      comment: 'Libraries never import an app.',
      severity: 'error',
      from: { path: '^libs/' },
      to: { path: '^apps/' },
    },
    {
      name: 'no-circular',
      comment: 'No import cycles.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'Every import resolves.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|\\.run|\\.cache|coverage)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.json'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
