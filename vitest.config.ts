import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // vitest's default (cores − 1) is one file at a time on CI's 2 cores, yet the slow files (soak,
    // unplug, power cut, clock jump, the peers' e2e) mostly wait on timers and child processes, so
    // three at a time fill the cores without starving them; measured in test/README.md.
    maxWorkers: Math.max(3, availableParallelism() - 1),
  },
});
