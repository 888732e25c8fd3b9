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
    hookTimeout: 30_000
  }
})
