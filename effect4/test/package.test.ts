import { describe, expect, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"

const line = fileURLToPath(new URL("..", import.meta.url))
const tsc = fileURLToPath(new URL("../../node_modules/typescript/bin/tsc", import.meta.url))
const run = (command: string, args: ReadonlyArray<string>, cwd: string) =>
  // Without this suite's NODE_OPTIONS (its Node 20 shim is a path relative to this line's directory).
  promisify(execFile)(command, args, { cwd, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, NODE_OPTIONS: "" } })

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

const tsconfig = (moduleResolution: "NodeNext" | "Bundler") =>
  JSON.stringify({
    compilerOptions: {
      target: "ES2022",
      module: moduleResolution === "NodeNext" ? "NodeNext" : "ESNext",
      moduleResolution,
      strict: true,
      exactOptionalPropertyTypes: true,
      noEmit: true,
      skipLibCheck: false,
      types: []
    },
    files: ["consumer.ts"]
  })

describe("the Effect 4 line as a package", () => {
  it(
    "packs, installs next to effect 4.1.5 alone, typechecks a consumer under NodeNext and Bundler, and runs",
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "erl-effect4-"))
      try {
        await run("npm", ["pack", "--pack-destination", dir, "--silent"], line)
        const tarball = readdirSync(dir).find((name) => name.endsWith(".tgz"))!
        const app = join(dir, "app")
        mkdirSync(app)
        writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }))
        await run(
          "npm",
          ["install", "--no-audit", "--no-fund", "--prefer-offline", join(dir, tarball), "effect@4.1.5"],
          app
        )
        // One Effect in the tree, the user's: nothing of the Effect 3 line came with the package.
        const { stdout: tree } = await run("npm", ["ls", "effect", "--all", "--parseable", "--long"], app)
        expect(tree.split("\n").filter((row) => row.includes("node_modules/effect:")).map((row) => row.split(":")[1]))
          .toStrictEqual(["effect@4.1.5"])
        writeFileSync(join(app, "consumer.ts"), consumer)
        for (const resolution of ["NodeNext", "Bundler"] as const) {
          writeFileSync(join(app, `tsconfig.${resolution}.json`), tsconfig(resolution))
          await run(process.execPath, [tsc, "-p", `tsconfig.${resolution}.json`], app)
        }
        writeFileSync(join(app, "runs.mjs"), runs)
        const { stdout } = await run(process.execPath, ["runs.mjs"], app)
        expect(stdout.trim()).toBe("3")
        writeFileSync(join(app, "calls.mjs"), calls)
        const { stdout: called } = await run(process.execPath, ["calls.mjs"], app)
        expect(called.trim().split("\n").at(-1)).toBe("Hello from Claude (2 requests)")
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    },
    240_000
  )
})
