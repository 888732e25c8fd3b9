import { describe, expect, it } from "@effect/vitest"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import semver from "semver"
import {
  effectVersions,
  inFreshProject,
  installBlock,
  run,
  runInstall,
  runScript,
  typecheck
} from "./core/support/installLines.js"

const root = new URL("..", import.meta.url)
const read = (path: string) => readFileSync(new URL(path, root), "utf8")
const pkg = JSON.parse(read("package.json")) as {
  readonly version: string
  readonly types: string
  readonly typesVersions: Record<string, Record<string, ReadonlyArray<string>>>
  readonly exports: Record<string, Record<string, string>>
  readonly peerDependencies: Record<string, string>
  readonly devDependencies: Record<string, string>
}

const block = installBlock(new URL("README.md", root).pathname, "Effect 3")

describe("install lines", () => {
  const lines = block.packages

  it("pin every dependency to a range, so npm picks neither effect 4 nor this package's Effect 4 line", () => {
    expect(lines.length).toBeGreaterThan(3)
    for (const [name, range] of lines) {
      expect(range, name).toBeDefined()
      expect(semver.validRange(range!), `${name}@${range}`).not.toBeNull()
    }
    expect(semver.intersects(lines.find(([name]) => name === "effect")![1]!, ">=4.0.0-0")).toBe(false)
    const own = lines.find(([name]) => name === "effect-retry-layer")![1]!
    expect(semver.satisfies(pkg.version, own), `${pkg.version} in ${own}`).toBe(true)
    expect(semver.intersects(own, ">=1.0.0-0"), "the Effect 4 line is 1.x").toBe(false)
  })

  it("ask for versions inside the peer ranges, and for the versions the tests run against", () => {
    for (const [name, range] of lines) {
      if (name === "effect-retry-layer") continue
      const peer = pkg.peerDependencies[name]
      if (peer !== undefined) expect(semver.subset(range!, peer), `${name}@${range} within ${peer}`).toBe(true)
      const tested = pkg.devDependencies[name]
      expect(tested, `${name} is tested`).toBeDefined()
      expect(semver.satisfies(tested!, range!), `${name}: tested ${tested} in ${range}`).toBe(true)
    }
  })

  it("name the dist-tag each line is released under, as the release scripts publish them", () => {
    const scripts = (JSON.parse(read("package.json")) as { scripts: Record<string, string> }).scripts
    // npm would put a 0.x published without --tag on `latest` (where Effect 4 users look) if it were the first.
    expect(scripts["release:effect3"]).toBe("npm publish --tag effect3")
    expect(scripts["release:effect4"]).toBe("npm publish --workspace effect4 --tag latest")
    expect(read("README.md")).toContain("**1.x for Effect 4** (npm's current Effect; the package's `latest` tag)")
    expect(read("README.md")).toContain("**0.x\nfor Effect 3** (its `effect3` tag)")
  })

  it("list every required peer", () => {
    const listed = new Set(lines.map(([name]) => name))
    for (const peer of ["effect", "@effect/platform", "@effect/experimental"]) expect(listed.has(peer), peer).toBe(true)
  })
})

// The modules an entry loads, following the relative imports of src/ (type-only imports are erased).
const graph = (entry: string) => {
  const seen = new Set<string>()
  const external = new Set<string>()
  const visit = (path: string) => {
    if (seen.has(path)) return
    seen.add(path)
    const source = read(path)
    for (const match of source.matchAll(/^(?:import|export)(?! type)[^"]*?from "([^"]+)"/gm)) {
      const specifier = match[1]!
      if (specifier.startsWith(".")) {
        visit(new URL(specifier.replace(/\.js$/, ".ts"), new URL(path, root)).pathname.slice(root.pathname.length))
      } else external.add(specifier)
    }
  }
  visit(entry)
  return { modules: seen, external }
}

describe("entries load only what they use", () => {
  it("effect-retry-layer/testing needs no Node built-in (FaultServer is in ./testing/server)", () => {
    const { external } = graph("src/testing.ts")
    expect([...external].filter((s) => s.startsWith("node:") || s.startsWith("@effect/platform-node"))).toEqual([])
    expect([...graph("src/testing/server.ts").external]).toContain("node:http")
  })

  it("only effect-retry-layer/ai and /testing/ai load @effect/ai (an optional peer)", () => {
    for (const entry of ["src/index.ts", "src/testing.ts", "src/http.ts", "src/anthropic.ts", "src/promise.ts"]) {
      expect([...graph(entry).external].filter((s) => s.startsWith("@effect/ai")), entry).toEqual([])
    }
    expect([...graph("src/testing/ai.ts").external]).toContain("@effect/ai/LanguageModel")
  })

  it("only effect-retry-layer/bedrock loads the AWS libraries, and the main entry no HTTP client", () => {
    for (const entry of ["src/index.ts", "src/anthropic.ts", "src/openai.ts", "src/http.ts", "src/testing.ts"]) {
      expect([...graph(entry).external].filter((s) => s.startsWith("@smithy/") || s.startsWith("@aws-crypto/")), entry)
        .toEqual([])
    }
    expect([...graph("src/bedrock.ts").external]).toContain("@smithy/eventstream-codec")
    expect(
      [...graph("src/index.ts").external].filter((s) => s.startsWith("@effect/platform") || s.startsWith("@effect/ai"))
    )
      .toEqual([])
    expect([...graph("src/ai.ts").external]).toContain("@effect/ai/LanguageModel")
  })

  it("effect-retry-layer/promise does not load effect/Schema (and with it fast-check)", () => {
    const { external } = graph("src/promise.ts")
    expect(external.has("effect/Schema")).toBe(false)
    expect([...external].every((s) => s.startsWith("effect/"))).toBe(true)
  })

  it("node10 resolution finds the same declarations as the exports (main entry: types; the rest: typesVersions)", () => {
    expect(pkg.types).toBe(pkg.exports["."]!["types"])
    const subpaths = Object.entries(pkg.exports).filter(([path]) => path !== ".")
    expect(pkg.typesVersions["*"]).toEqual(
      Object.fromEntries(subpaths.map(([path, conditions]) => [path.slice(2), [conditions["types"]]]))
    )
  })

  it("every export has types, import and a default condition", () => {
    for (const [path, conditions] of Object.entries(pkg.exports)) {
      expect(Object.keys(conditions), path).toEqual(["types", "import", "default"])
      const source = conditions.import!.replace("./dist/", "src/").replace(/\.js$/, ".ts")
      expect(existsSync(new URL(source, root)), source).toBe(true)
    }
  })
})

// What an Effect 3 user writes with the README's install lines: the adapters, the stack on Redis, @effect/ai's
// LanguageModel decorated, the Promise bridge.
const consumer = `import { LanguageModel } from "@effect/ai"
import { NodeHttpClient } from "@effect/platform-node"
import { Config, Effect, Layer } from "effect"
import { CompletionModel, FleetStore, ModelError, ResilientModel, RetryingModel, RetrySchedule } from "effect-retry-layer"
import { ResilientLanguageModel, RetryingLanguageModel } from "effect-retry-layer/ai"
import { Anthropic } from "effect-retry-layer/anthropic"
import { Bedrock } from "effect-retry-layer/bedrock"
import { OpenAI } from "effect-retry-layer/openai"
import { retry } from "effect-retry-layer/promise"
import { FleetStoreRedis } from "effect-retry-layer/redis"

export const Model = ResilientModel.layer().pipe(
  Layer.provide(Anthropic.layerConfig({ apiKey: Config.redacted("ANTHROPIC_API_KEY"), model: Config.succeed("claude") })),
  Layer.provide(NodeHttpClient.layerUndici),
  Layer.provide(FleetStoreRedis.layer({ host: "127.0.0.1", port: 6379 }))
)
export const program = Effect.flatMap(CompletionModel.CompletionModel, (model) => model.chatStream({ messages: [] }))
  .pipe(Effect.provide(Model))
declare const Provider: Layer.Layer<LanguageModel.LanguageModel>
export const decorated = [
  RetryingLanguageModel.layer({ maxAttempts: 4 }).pipe(Layer.provide(Provider)),
  ResilientLanguageModel.layer().pipe(Layer.provide(Provider), Layer.provide(FleetStore.layerMemory))
] as const
export const schedule = RetrySchedule.make<ModelError.ModelError>({ baseDelay: "200 millis" })
export const plain = RetryingModel.layer
export const models = [OpenAI.layerAzure, OpenAI.layer, Bedrock.layer] as const
export const answer = retry(async () => 42, { maxAttempts: 3 })
`

// And that the installed project calls Anthropic through the adapter and the recommended stack, on Node's HTTP
// client (the loopback server standing in for Anthropic): its 429 retried, then the answer.
const calls = `import { NodeHttpClient } from "@effect/platform-node"
import { Effect, Layer, Redacted, Stream } from "effect"
import { CompletionModel, FleetStore, ResilientModel } from "effect-retry-layer"
import { Anthropic } from "effect-retry-layer/anthropic"
import { FaultServer } from "effect-retry-layer/testing/server"
const program = Effect.gen(function*() {
  const server = yield* FaultServer.make()
  yield* server.enqueue(
    FaultServer.anthropicError(429, "rate_limit_error", "slow down", { "retry-after-ms": "10" }),
    FaultServer.anthropicStream(["Hello", " from Claude"])
  )
  const text = yield* Effect.flatMap(CompletionModel.CompletionModel, (model) =>
    model.chatStream({ messages: [{ role: "user", content: "Hi" }] })).pipe(
    Effect.flatMap((stream) => Stream.runFold(stream, "", (text, chunk) => chunk._tag === "TextDelta" ? text + chunk.text : text)),
    Effect.provide(ResilientModel.layer().pipe(
      Layer.provide(Anthropic.layer({ apiKey: Redacted.make("sk-ant"), model: "claude", baseUrl: server.url })),
      Layer.provide(NodeHttpClient.layerUndici),
      Layer.provide(FleetStore.layerMemory)
    ))
  )
  return text + " (" + (yield* server.requests).length + " requests)"
})
console.log(await Effect.runPromise(Effect.scoped(program)))
`

describe("the Effect 3 line as a package", () => {
  it(
    "installs with the README's lines as written, one effect 3 in the tree, typechecks a consumer under NodeNext, Bundler and node10 and every declaration it ships, and calls Anthropic",
    async () => {
      await inFreshProject(root.pathname, async (app, tarball) => {
        await runInstall(app, block.commands, tarball)
        const effects = [...await effectVersions(app)]
        expect(effects.length, effects.join()).toBe(1)
        expect(
          semver.satisfies(effects[0]!.slice("effect@".length), block.packages.find(([name]) => name === "effect")![1]!)
        )
          .toBe(true)
        // A Node project's own types: @effect/platform-node's declarations refer to Node's and ws's.
        await run("npm", [
          "install",
          "--no-audit",
          "--no-fund",
          "--prefer-offline",
          "-D",
          "@types/node@20",
          "@types/ws@8"
        ], app)
        // and under node10 resolution too (the package's main, types and typesVersions), as Effect 3 itself allows;
        // every declaration the package ships compiles (internals stripped), not only those the consumer reaches
        await typecheck(app, consumer, new URL("node_modules/typescript/bin/tsc", root).pathname, {
          types: ["node"],
          resolutions: ["NodeNext", "Bundler", "Node10"],
          declarationsOf: "effect-retry-layer"
        })
        expect(readFileSync(join(app, "node_modules/effect-retry-layer/dist/AdaptiveRateLimiter.d.ts"), "utf8"))
          .not.toContain("@internal")
        expect(await runScript(app, calls)).toBe("Hello from Claude (2 requests)")
      })
    },
    600_000
  )
})
