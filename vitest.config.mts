import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    // Cross-checks and LAPACK calls are CPU-bound: one file at a time per core.
    maxWorkers: 2,
  },
});
