import { fileURLToPath } from "node:url"
import { configDefaults, defineConfig } from "vitest/config"

const src = (path: string) => fileURLToPath(new URL(`./src/${path}`, import.meta.url))

// As the Effect 3 line's (../vitest.config.ts says why): files whose results depend on real time (a real Redis,
// its store timeouts) run one at a time after the rest, which share the cores.
const alone = ["test/providers.fleet.test.ts", "test/core/internal/storeTimeout.test.ts"]

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
    // test/core is the Effect 3 line's, linked: the shared code's tests run on both lines.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    projects: [
      {
        extends: true,
        test: {
          name: "shared",
          include: ["test/**/*.test.ts"],
          exclude: [...configDefaults.exclude, ...alone],
          testTimeout: 120_000
        }
      },
      { extends: true, test: { name: "alone", include: alone } }
    ]
  }
})
