import { describe, expect, it } from "@effect/vitest"
import { fileURLToPath } from "node:url"
import { problems, wiring } from "./core/support/wiring.js"

const line = fileURLToPath(new URL("..", import.meta.url))
const page = fileURLToPath(new URL("../../docs/choosing.md", import.meta.url))

// What docs/choosing.md leaves to the reader: the imports, and the names that stand for the reader's own.
const prelude = `import { Config, Effect, Layer, Redacted } from "effect"
import { LanguageModel } from "effect/ai"
import { FetchHttpClient } from "effect/http"
import { FleetStore, ResilientLanguageModel, RetryAcquisition } from "effect-retry-layer"
import { Anthropic } from "effect-retry-layer/anthropic"
import { FleetStoreRedis } from "effect-retry-layer/redis"
declare const connect: Effect.Effect<{ readonly id: number }, Error>
declare const YourModel: Layer.Layer<LanguageModel.LanguageModel>
declare const prompt: string
declare const apiKey: Redacted.Redacted
declare const model: string
`

describe("docs/choosing.md", () => {
  it("every Effect 4 wiring it gives compiles against this line's sources", async () => {
    const spans = wiring(page, "Effect 4 (`effect-retry-layer` 1.x)")
    expect(spans.length).toBeGreaterThanOrEqual(6)
    expect(await problems(line, prelude, spans)).toEqual([])
  }, 120_000)
})
