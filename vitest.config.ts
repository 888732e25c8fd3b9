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
    hookTimeout: 30_000
  }
})
