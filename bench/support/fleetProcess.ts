/**
 * One process of the real-process fleet bench (`bench/processes.ts`): the
 * recommended stack (`ResilientModel.layer()`, defaults) over the Anthropic
 * adapter, on `FleetStoreRedis.layer` (defaults) or a memory store of its own;
 * or, for comparison, plain retries (`retry(fetch)` from
 * `effect-retry-layer/promise`, defaults).
 * It builds the stack (connecting to Redis), says `ready`, waits for `go` on
 * stdin so that every process starts at once, runs its calls all at once, and
 * prints one JSON line: calls done and failed, the store's fall-backs to local
 * state, and when it finished (`Date.now()`, shared by the processes of one
 * machine).
 *
 * With `stalls`, it blocks its own event loop for 100-300 ms at a random
 * moment of every second, as a GC pause or a CPU-bound handler would.
 *
 * Arguments: `<server url> <redis port | memory | plain> <key prefix> <calls> <stalls | steady>`.
 */
import { NodeHttpClient } from "@effect/platform-node"
import { Effect, Exit, Layer, Logger, LogLevel, ManagedRuntime, Redacted, Stream } from "effect"
import { CompletionModel, FleetStore, ResilientModel } from "effect-retry-layer"
import { Anthropic } from "effect-retry-layer/anthropic"
import { retry } from "effect-retry-layer/promise"
import { FleetStoreRedis } from "effect-retry-layer/redis"
import { readyThenGo } from "./goSignal.js"
import { fetchOnce } from "./plainFetch.js"

const [url, store, prefix, callsArg, mode] = process.argv.slice(2)
const calls = Number(callsArg)
if (url === undefined || store === undefined || prefix === undefined || !(calls > 0)) {
  throw new Error("usage: fleetProcess <url> <redis port | memory | plain> <prefix> <calls> <stalls | steady>")
}

const fallbacks: Array<string> = []
const logger = Logger.replace(
  Logger.defaultLogger,
  Logger.make(({ logLevel, message }) => {
    const text = String(Array.isArray(message) ? message[0] : message)
    if (logLevel._tag === "Warning" && text.startsWith("fleet store")) fallbacks.push(text)
  })
)

// The stack, except for plain retries, which call `fetch` themselves.
const runtime = store === "plain" ? undefined : ManagedRuntime.make(
  ResilientModel.layer().pipe(
    Layer.provide(Anthropic.layer({ apiKey: Redacted.make("bench"), model: "m", baseUrl: url })),
    Layer.provide(NodeHttpClient.layerUndici),
    Layer.provide(
      store === "memory"
        ? FleetStore.layerMemory
        : FleetStoreRedis.layer({ host: "127.0.0.1", port: Number(store), prefix })
    ),
    Layer.provide(Layer.merge(logger, Logger.minimumLogLevel(LogLevel.Warning)))
  )
)

const call = Effect.flatMap(
  CompletionModel.CompletionModel,
  (model) =>
    Effect.flatMap(model.chatStream({ messages: [{ role: "user", content: "hi" }], maxTokens: 16 }), Stream.runDrain)
)
const callOnce = (): Promise<Exit.Exit<unknown, unknown>> =>
  runtime === undefined
    ? retry(fetchOnce(url)).then(() => Exit.void, (error) => Exit.die(error))
    : runtime.runPromiseExit(call)

const block = (millis: number) => {
  const until = performance.now() + millis
  while (performance.now() < until) {
    // the event loop is blocked: nothing else in this process runs
  }
}

await runtime?.runPromise(Effect.void)
await readyThenGo()

let stalls: ReturnType<typeof setTimeout> | undefined
const stallOnce = () => {
  // one stall at a random moment of each second
  const at = Math.random() * 1000
  stalls = setTimeout(() => {
    block(100 + Math.random() * 200)
    stalls = setTimeout(stallOnce, 1000 - at)
  }, at)
}
if (mode === "stalls") stallOnce()

const exits = await Promise.all(Array.from({ length: calls }, callOnce))
const finishedAt = Date.now()
clearTimeout(stalls)
await runtime?.dispose()
console.log(JSON.stringify({
  done: exits.filter(Exit.isSuccess).length,
  failed: exits.filter(Exit.isFailure).length,
  fallbacks: fallbacks.length,
  firstFallback: fallbacks[0],
  finishedAt
}))
