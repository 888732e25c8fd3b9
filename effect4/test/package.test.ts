import { describe, expect, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import semver from "semver"
import {
  effectVersions,
  inFreshProject,
  installBlock,
  runInstall,
  runScript,
  typecheck
} from "./core/support/installLines.js"

const line = fileURLToPath(new URL("..", import.meta.url))
const tsc = fileURLToPath(new URL("../../node_modules/typescript/bin/tsc", import.meta.url))
// What an Effect 4 user writes: the layer over effect/ai's LanguageModel, and the schedule on its own.
const consumer = `import { Config, Effect, Layer } from "effect"
import { LanguageModel } from "effect/ai"
import { FetchHttpClient } from "effect/http"
import { FleetStore, ModelError, ResilientLanguageModel, RetryingLanguageModel, RetrySchedule } from "effect-retry-layer"
import { Anthropic } from "effect-retry-layer/anthropic"
import { Bedrock } from "effect-retry-layer/bedrock"
import { OpenAI } from "effect-retry-layer/openai"

declare const Provider: Layer.Layer<LanguageModel.LanguageModel>
export const Model = RetryingLanguageModel.layer({ maxAttempts: 4 }).pipe(Layer.provide(Provider))
export const Resilient = ResilientLanguageModel.layer({ budget: { key: "k" }, limiter: { initialRate: 5 } }).pipe(
  Layer.provide(Provider),
  Layer.provide(FleetStore.layerMemory)
)
export const program = LanguageModel.generateText({ prompt: "Hi" }).pipe(Effect.provide(Model))
export const schedule = RetrySchedule.make<ModelError.ModelError>({ baseDelay: "200 millis" })
export const Claude = Anthropic.layerConfig({
  apiKey: Config.Redacted("ANTHROPIC_API_KEY"),
  model: Config.succeed("claude-sonnet-4-5")
}).pipe(Layer.provide(FetchHttpClient.layer), Layer.provide(FleetStore.layerMemory))
export const models = [OpenAI.layerAzure, OpenAI.layer, Bedrock.layer] as const
`

// And that it runs on the Effect it was installed next to: two overloaded answers retried, then the third call.
const runs = `import { Effect } from "effect"
import { ModelError, RetrySchedule } from "effect-retry-layer"
let calls = 0
const call = Effect.suspend(() =>
  ++calls < 3 ? Effect.fail(new ModelError.OverloadedError({ provider: "p", message: "busy" })) : Effect.succeed(calls)
)
console.log(await Effect.runPromise(Effect.retry(call, RetrySchedule.make({ baseDelay: "1 millis", jitter: "none" }))))
`

// And that an installed project calls Anthropic through effect/ai (the loopback server standing in for it), with
// the optional peers of the Bedrock adapter and ioredis not installed: its 429 retried (the retry and the fleet
// stack are the provider's defaults), then the answer.
const calls = `import { Effect, Layer, Redacted } from "effect"
import { LanguageModel } from "effect/ai"
import { FetchHttpClient } from "effect/http"
import { Anthropic } from "effect-retry-layer/anthropic"
import { FaultServer } from "effect-retry-layer/testing/server"
const program = Effect.gen(function*() {
  const server = yield* FaultServer.make()
  yield* server.enqueue(
    FaultServer.anthropicError(429, "rate_limit_error", "slow down", { "retry-after-ms": "10" }),
    FaultServer.anthropicStream(["Hello", " from Claude"])
  )
  const model = Anthropic.layer({ apiKey: Redacted.make("sk-ant"), model: "claude", baseUrl: server.url })
  const response = yield* LanguageModel.generateText({ prompt: "Hi" }).pipe(
    Effect.provide(model.pipe(Layer.provide(FetchHttpClient.layer)))
  )
  return response.text + " (" + (yield* server.requests).length + " requests)"
})
console.log(await Effect.runPromise(Effect.scoped(program)))
`

const readme = fileURLToPath(new URL("../../README.md", import.meta.url))
const block = installBlock(readme, "Effect 4")
const pkg = JSON.parse(readFileSync(join(line, "package.json"), "utf8")) as {
  readonly version: string
  readonly peerDependencies: Record<string, string>
  readonly devDependencies: Record<string, string>
}

describe("the README's Effect 4 install lines", () => {
  it("ask for this line (1.x), effect pinned to the version the tests run, every package inside its peer range", () => {
    const own = block.packages.find(([name]) => name === "effect-retry-layer")![1]!
    expect(semver.satisfies(pkg.version, own), `${pkg.version} in ${own}`).toBe(true)
    expect(semver.intersects(own, "<1.0.0"), "the Effect 3 line is 0.x").toBe(false)
    // effect/ai is unstable in Effect 4: the line pins effect exactly.
    expect(block.packages.find(([name]) => name === "effect")![1]).toBe(pkg.devDependencies["effect"])
    for (const [name, range] of block.packages) {
      if (name === "effect-retry-layer") continue
      expect(semver.validRange(range ?? ""), `${name}@${range}`).not.toBeNull()
      expect(pkg.peerDependencies[name], `${name} is a peer`).toBeDefined()
      expect(semver.subset(range!, pkg.peerDependencies[name]!), `${name}@${range}`).toBe(true)
      expect(semver.satisfies(pkg.devDependencies[name]!, range!), `${name}: tested in ${range}`).toBe(true)
    }
    expect(readFileSync(new URL("../../docs/effect4.md", import.meta.url), "utf8")).toContain(block.commands[0])
  })
})

describe("the Effect 4 line as a package", () => {
  it(
    "installs with the README's lines as written, one effect (4.1.5) in the tree, typechecks a consumer under NodeNext and Bundler, and runs",
    async () => {
      await inFreshProject(line, async (app, tarball) => {
        // Only the first line: the rest are optional peers, and the call below runs without them.
        await runInstall(app, block.commands.slice(0, 1), tarball)
        // One Effect in the tree, the user's: nothing of the Effect 3 line came with the package.
        expect(await effectVersions(app)).toStrictEqual(new Set(["effect@4.1.5"]))
        await typecheck(app, consumer, tsc)
        expect(await runScript(app, runs)).toBe("3")
        expect(await runScript(app, calls)).toBe("Hello from Claude (2 requests)")
        // Then the optional lines, as written: they install beside it and change nothing of the above.
        await runInstall(app, block.commands.slice(1), tarball)
        expect(await effectVersions(app)).toStrictEqual(new Set(["effect@4.1.5"]))
        expect(await runScript(app, calls)).toBe("Hello from Claude (2 requests)")
      })
    },
    600_000
  )
})
