import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

const src = (path: string) => fileURLToPath(new URL(`./src/${path}`, import.meta.url))

export default defineConfig({
  // src/core links to the Effect 3 line's src/core: resolved from the link, its "effect" is this line's.
  resolve: {
    preserveSymlinks: true,
    alias: [
      { find: /^effect-retry-layer$/, replacement: src("index.ts") },
      { find: /^effect-retry-layer\/(.*)$/, replacement: src("$1.ts") }
    ]
  },
  test: {
    include: ["test/**/*.test.ts"],
    // test/core is the Effect 3 line's, linked: the shared code's tests run on both lines.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Vitest's default (one worker less than the cores) runs one file at a time on a 2-core machine, while much of
    // the suite waits on I/O (npm installs, child processes, loopback servers): three files at once took the Effect 3
    // suite from 448 s to 254 s on an idle 2-core machine. The tests that measure real processes' sharing in real
    // time (several runtimes on one Redis, the loopback fleets) starve beside two other files on a busy machine:
    // the package's `vitest` script runs them after the rest, one file at a time.
    maxWorkers: 3
  }
})
