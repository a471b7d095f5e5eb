// ESLint flat config: type-aware typescript-eslint rules for the whole TypeScript tree, plus the
// functional-core rules for the pure libraries (no clock, no randomness, no shell imports).
// Style (spacing, quotes, line length) is Prettier's: eslint-config-prettier switches off every
// rule that would fight it. Run with `npm run lint`.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['dist/**', '.run/**', '.cache/**', 'coverage/**', 'node_modules/**'] },
  { linterOptions: { reportUnusedDisableDirectives: 'error' } },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    extends: [js.configs.recommended],
    languageOptions: { globals: globals.node },
  },
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // A switch over a union names every member or says `default:` on purpose.
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      // `_`-named bindings are deliberate: destructuring a field away, a parameter an interface requires.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // async functions that implement a Promise-returning interface need not await.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // The functional core: no clock, no randomness, no environment (imports are dependency-cruiser's, .dependency-cruiser.js).
    files: ['libs/domain/src/**/*.ts', 'libs/matching/src/**/*.ts', 'libs/rulebook/src/**/*.ts'],
    ignores: ['**/*.spec.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'A pure library does not read the wall clock: take the time as an argument.' },
        { object: 'Math', property: 'random', message: 'A pure library uses no randomness: take a seed or the values as arguments.' },
        { object: 'performance', property: 'now', message: 'A pure library does not read a clock.' },
        { object: 'process', message: 'A pure library does not read the process (environment, clock, arguments).' },
        { object: 'crypto', message: 'A pure library uses no randomness.' },
      ],
      'no-restricted-syntax': [
        'error',
        { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: 'A pure library does not read the wall clock (new Date()).' },
        { selector: "CallExpression[callee.name='Date']", message: 'A pure library does not read the wall clock (Date()).' },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'A pure library does not read the process.' },
        { name: 'performance', message: 'A pure library does not read a clock.' },
        { name: 'setTimeout', message: 'A pure library does not schedule: the shell owns time.' },
        { name: 'setInterval', message: 'A pure library does not schedule: the shell owns time.' },
        { name: 'setImmediate', message: 'A pure library does not schedule: the shell owns time.' },
        { name: 'crypto', message: 'A pure library uses no randomness.' },
        { name: 'fetch', message: 'A pure library does no I/O.' },
      ],
    },
  },
  {
    // Tests, benchmarks and scripts drive the system over HTTP and read its JSON answers, for which
    // `any` is the honest type: the no-unsafe-* family would only add casts there. Services and
    // libraries (apps/, libs/ outside specs) get the whole set.
    files: ['**/*.spec.ts', 'test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  prettier,
);
