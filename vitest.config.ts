import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

const src = (path: string) => fileURLToPath(new URL(`./src/${path}`, import.meta.url))

export default defineConfig({
  resolve: {
    // Tests import the package by its public name, as users do, but run against the sources.
    alias: [
      { find: /^effect-retry-layer$/, replacement: src("index.ts") },
      { find: /^effect-retry-layer\/(.*)$/, replacement: src("$1.ts") }
    ]
  },
  test: {
    include: ["test/**/*.test.ts", "examples/**/*.test.ts"],
    // HTTP and Redis tests start real servers on loopback.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Vitest's default (one worker less than the cores) runs one file at a time on a 2-core machine, while much of
    // the suite waits on I/O (npm installs, child processes, loopback servers, Redis): three files at once took the
    // Effect 3 suite from 448 s to 254 s on an idle 2-core machine, every timing still in virtual time.
    maxWorkers: 3,
    minWorkers: 1
  }
})
