// @ts-check
/**
 * The typed-lint gate `npm test` runs before the tests (`npm run lint`): typescript-eslint's type-checked
 * recommended rules over every TypeScript file of the repository (product, tests, scripts, lab tools), with the two
 * rules that catch lost async errors spelled out. Type information comes from tsconfig.test.json, the one program
 * that covers all of them, so the linter builds one TypeScript program, not one per folder.
 */
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** node:test's `describe`/`it`/hooks return promises the runner itself awaits; not awaiting them is how it is used. */
const NODE_TEST_CALLS = ['describe', 'suite', 'it', 'test', 'before', 'after', 'beforeEach', 'afterEach'];

export default tseslint.config(
  { ignores: ['dist/', 'dist-tools/', 'node_modules/', 'bench-data/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { project: './tsconfig.test.json', tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // A promise nobody awaits or catches loses its rejection (an unhandled rejection ends the process).
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: NODE_TEST_CALLS }] },
      ],
      // An async function where a callback's result is ignored (an event listener, a `forEach`) loses its errors.
      '@typescript-eslint/no-misused-promises': 'error',
      // Rejecting with what a `catch` caught (typed `unknown`) passes an error on; it does not invent a non-Error.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      // Off: HTTP parsers match control characters on purpose (RFC 9110 §5.5, RFC 9112 field and chunk syntax),
      // which is all this rule reports here; a rewrite of src/http1 is under way and would keep needing it.
      'no-control-regex': 'off',
    },
  },
  // This file and other plain JavaScript: no type information.
  { files: ['**/*.js', '**/*.mjs'], ...tseslint.configs.disableTypeChecked },
);
