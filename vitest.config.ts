import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // Golden and end-to-end tests spawn tshark, sipp and network namespaces.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Namespace tests must not run in parallel with each other; files run in forks.
    pool: 'forks',
    reporters: ['default', './tests/lib/summary-reporter.ts'],
  },
});
