import { fileURLToPath } from "node:url"
import { configDefaults, defineConfig } from "vitest/config"

const src = (path: string) => fileURLToPath(new URL(`./src/${path}`, import.meta.url))

// Files whose results depend on real time: a real Redis and its store timeouts, processes kept busy, loopback
// sockets closing. They run one at a time after the rest (`npm run vitest`: project "alone", one worker), so no
// other file takes their core. The rest share the cores (project "shared", four workers): most run in virtual
// time, where TestClock waits a real timer tick (1 ms) between the sleeps it wakes, so a file leaves its core idle
// about nine tenths of the time (25.3 of 28.0 s for ResilientModel's 3,000 callers, by --cpu-prof); a busy core
// makes them slower, never wrong. The package and example tests (npm, tsc, child processes) fill that idle time;
// their output does not depend on how fast they run.
const alone = [
  "test/FleetStoreRedis.test.ts",
  "test/AdaptiveRateLimiter.loopback.test.ts",
  "test/RetryingLanguageModel.loopback.test.ts",
  "test/core/internal/storeTimeout.test.ts",
  "test/providers/Anthropic.test.ts"
]

export default defineConfig({
  resolve: {
    // Tests import the package by its public name, as users do, but run against the sources.
    alias: [
      { find: /^effect-retry-layer$/, replacement: src("index.ts") },
      { find: /^effect-retry-layer\/(.*)$/, replacement: src("$1.ts") }
    ]
  },
  test: {
    // HTTP and Redis tests start real servers on loopback.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    projects: [
      {
        extends: true,
        test: {
          name: "shared",
          include: ["test/**/*.test.ts", "examples/**/*.test.ts"],
          exclude: [...configDefaults.exclude, ...alone],
          // a hang guard, not a speed target: a simulation of thousands of calls takes 20 s alone on an idle core
          testTimeout: 120_000,
          // concurrent tests (the examples, each a child process) three at a time; a test's timeout starts with it
          maxConcurrency: 3
        }
      },
      { extends: true, test: { name: "alone", include: alone } }
    ]
  }
})
