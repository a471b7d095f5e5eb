// Resolves the @ch/* path aliases for compiled code under dist/ (node -r ./scripts/register-paths.js dist/...).
// tsc leaves the aliases in the emitted require() calls; this maps them onto the emitted folders.
const path = require('path');
const tsconfigPaths = require('tsconfig-paths');
const { compilerOptions } = require('../tsconfig.json');
tsconfigPaths.register({ baseUrl: path.join(__dirname, '..', 'dist'), paths: compilerOptions.paths });
