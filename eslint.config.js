// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'src/gen/', 'openapi/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    // plain Node scripts (bench, generators)
    files: ['**/*.mjs'],
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', performance: 'readonly', URL: 'readonly' },
    },
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-imports': 'off',
    },
  },
  {
    // Type-aware rules for the daemon's code: a promise is awaited, handled, or deliberately
    // left with `void` / background(); a promise never goes where a void callback is expected.
    files: ['src/**/*.ts'],
    ignores: ['src/gen/**'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
    },
  },
  {
    // Layering: the HTTP layer never reaches into gRPC/protobuf; the engine never into HTTP.
    files: ['src/http/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: ['**/containerd/**', '**/gen/**', '@grpc/*', 'protobufjs'] },
      ],
    },
  },
  {
    files: ['src/engine/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['**/http/**', 'fastify', '**/gen/**', '@grpc/*'] }],
    },
  },
  {
    files: ['src/containerd/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['**/http/**', '**/engine/**', 'fastify'] }],
    },
  },
  {
    // Leaves: host mechanics, formats of archives, the containerd supervisor. They know nothing
    // of the engine, HTTP or gRPC; the engine and formats use them.
    files: ['src/host/**/*.ts', 'src/archive/**/*.ts', 'src/supervisor/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: ['**/engine/**', '**/http/**', '**/containerd/**', '**/gen/**', 'fastify', '@grpc/*'],
        },
      ],
    },
  },
  {
    files: [
      'src/errors/**/*.ts',
      'src/oci/**/*.ts',
      'src/util/**/*.ts',
      'src/log/**/*.ts',
      'src/config/**/*.ts',
    ],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: ['**/http/**', '**/engine/**', '**/containerd/**', 'fastify', '@grpc/*'] },
      ],
    },
  },
);
