import { describe, expect, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import { generate, moduleText } from "../../scripts/fleetLua.js"

describe("fleetSteps", () => {
  it("the Lua the Redis store runs is what TypeScriptToLua makes of the steps today (else: npm run lua)", () => {
    const committed = readFileSync(new URL("../../src/core/internal/fleetSteps.lua.ts", import.meta.url), "utf8")
    // (a boolean: the diff of two copies of the Lua would bury the one line that says what to do)
    expect(committed === moduleText(generate()), "src/core/internal/fleetSteps.lua.ts is stale: run npm run lua").toBe(
      true
    )
  }, 60_000)
})
