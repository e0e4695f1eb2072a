// ESLint (flat config): correctness rules, and two layering rules (no dialect branches outside store/;
// no service built inside an HTTP plugin).
// Formatting is Prettier's; import layers and cycles are dependency-cruiser's (.dependency-cruiser.cjs).
// `npm run lint` runs ESLint and dependency-cruiser.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const noDialectBranches = ['MemberExpression[property.name="dialect"]', 'Identifier[name="dialect"]'].flatMap(
  (side) => [
    {
      selector: `BinaryExpression[operator=/^[!=]==?$/] > ${side}`,
      message: 'Ask a store capability (store/database.ts) instead of comparing the dialect.',
    },
    {
      selector: `SwitchStatement > ${side}.discriminant`,
      message: 'Ask a store capability (store/database.ts) instead of switching on the dialect.',
    },
  ],
);

export default tseslint.config(
  { ignores: ['**/node_modules/', '**/dist/', '.ci/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2023, sourceType: 'module', globals: globals.node },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // `any` at protocol edges (parsed JSON, client responses) is a style question, not a bug.
      '@typescript-eslint/no-explicit-any': 'off',
      // Our wrappers re-word errors on purpose (e.g. a database URL is redacted before it is shown).
      'preserve-caught-error': 'off',
      // `TObject<{}>` (TypeBox: an object schema with no properties) is idiomatic; empty interfaces stay checked.
      '@typescript-eslint/no-empty-object-type': ['error', { allowObjectTypes: 'always' }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
    },
  },
  {
    // Domain and edge code never branch on the database's name: what differs between SQLite and
    // PostgreSQL is a store capability (store/database.ts, e.g. `singleServer`) or a per-dialect
    // module (tracking/shared/dialects/). Tests and the harness may pick per dialect.
    files: ['packages/**/*.ts'],
    ignores: ['packages/server/src/store/**', 'packages/server/src/testing/**', '**/*.test.ts'],
    rules: { 'no-restricted-syntax': ['error', ...noDialectBranches] },
  },
  {
    // HTTP plugins receive their services; they build none (the composition root,
    // packages/server/src/services.ts, makes each exactly once). Repeats the dialect rule: a later
    // flat-config block replaces a rule's options rather than adding to them.
    files: ['packages/server/src/http/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        ...noDialectBranches,
        {
          selector: 'NewExpression[callee.name=/(Service|Engine|Store)$|^V1/]',
          message:
            'HTTP plugins construct no services: build it once in packages/server/src/services.ts (the composition root) and pass it to the plugin.',
        },
      ],
    },
  },
  {
    // The studio runs in browsers.
    files: ['packages/studio/src/**/*.{ts,tsx}'],
    languageOptions: { globals: globals.browser },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
  },
  {
    // Type-aware: a promise nobody awaits loses its rejection. Mark deliberate ones with `void`.
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        // node:test's describe/it/test return promises the runner itself awaits.
        {
          allowForKnownSafeCalls: [
            {
              from: 'package',
              package: 'node:test',
              name: ['describe', 'it', 'test', 'suite', 'before', 'after', 'beforeEach', 'afterEach'],
            },
          ],
        },
      ],
    },
  },
);
