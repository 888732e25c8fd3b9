import { describe, expect, it } from "@effect/vitest"
import { fileURLToPath } from "node:url"
import { problems, wiring } from "./core/support/wiring.js"

const root = fileURLToPath(new URL("..", import.meta.url))

// What docs/choosing.md leaves to the reader: the imports, and the names that stand for the reader's own.
const prelude = `import { AnthropicClient, AnthropicLanguageModel } from "@effect/ai-anthropic"
import { LanguageModel } from "@effect/ai"
import { NodeHttpClient } from "@effect/platform-node"
import { Config, Effect, Layer } from "effect"
import { FleetStore, ResilientModel, RetryAcquisition, RetryingModel } from "effect-retry-layer"
import { ResilientLanguageModel, RetryingLanguageModel } from "effect-retry-layer/ai"
import { Anthropic } from "effect-retry-layer/anthropic"
import { ResilientHttpClient } from "effect-retry-layer/http"
import { retry } from "effect-retry-layer/promise"
import { FleetStoreRedis } from "effect-retry-layer/redis"
import { ScriptedModel } from "effect-retry-layer/testing"
declare const connect: Effect.Effect<{ readonly id: number }, Error>
declare const client: { readonly messages: { readonly create: (params: unknown) => Promise<unknown> } }
declare const params: unknown
declare const YourModel: Layer.Layer<LanguageModel.LanguageModel>
void [LanguageModel, ResilientLanguageModel, YourModel]
`

describe("docs/choosing.md", () => {
  it("every Effect 3 wiring it gives compiles against the sources", async () => {
    const spans = wiring(`${root}/docs/choosing.md`, "Effect 3 (`effect-retry-layer` 0.x)")
    expect(spans.length).toBeGreaterThanOrEqual(8)
    expect(await problems(root, prelude, spans)).toEqual([])
  }, 120_000)
})
