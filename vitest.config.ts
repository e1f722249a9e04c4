import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // Golden and end-to-end tests spawn tshark, sipp and network namespaces.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Files run one at a time in a forked worker: the namespace tests, the
    // shared Kafka broker and the PostgreSQL test database must not see two
    // test files at once, and the machine has two cores anyway.
    pool: 'forks',
    fileParallelism: false,
    reporters: ['default', './tests/lib/summary-reporter.ts'],
  },
});
