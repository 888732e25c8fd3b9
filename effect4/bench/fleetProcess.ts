/**
 * One process of the real-process fleet bench (`bench/processes.ts`) on the Effect 4 line: this line's Anthropic
 * provider (an `effect/ai` `LanguageModel`) over `effect/http`'s fetch client, either with its defaults (the retry
 * and the fleet stack: `provider` on a memory store of its own, `provider-redis` on `FleetStoreRedis` with its
 * defaults, the recommended fleet mode) or with Effect 4's own pieces around the client in the order their docs recommend
 * (`builtins`: `withRateLimiter` on a memory store, token bucket, 300 a minute, `times` unset as its default;
 * `builtins-times-3` the same with `times: 3`; then `retryTransient({ times: 2 })`, then `withCircuitBreaker`,
 * 5 consecutive failures, 30 s open), the provider's own retry off. The same protocol as the Effect 3 line's
 * `bench/support/fleetProcess.ts`: `ready`, wait for `go`, all calls at once, one JSON line.
 *
 * Arguments: `<server url> <provider | provider-redis | builtins | builtins-times-3> <calls> [redis port] [prefix]`.
 */
import { Effect, Exit, Layer, Logger, ManagedRuntime, Redacted, Schedule, Stream } from "effect"
import { FleetStore } from "effect-retry-layer"
import { Anthropic } from "effect-retry-layer/anthropic"
import { FleetStoreRedis } from "effect-retry-layer/redis"
import { LanguageModel } from "effect/ai"
import { FetchHttpClient, HttpClient } from "effect/http"
import { CircuitBreaker, RateLimiter } from "effect/persistence"
import { readyThenGo } from "../../bench/support/goSignal.js"

const [url, mode, callsArg, redisPort, prefix] = process.argv.slice(2)
const calls = Number(callsArg)
if (url === undefined || mode === undefined || !(calls > 0)) {
  throw new Error("usage: fleetProcess <url> <provider | provider-redis | builtins | builtins-times-3> <calls>")
}

// Effect 4's pieces around the client, in their docs' order: the rate limiter, then retryTransient, then the breaker.
const Builtins = (times: number | undefined) =>
  Layer.effect(
    HttpClient.HttpClient,
    Effect.gen(function*() {
      const client = yield* HttpClient.HttpClient
      const limiter = yield* RateLimiter.RateLimiter
      const breaker = yield* CircuitBreaker.make({
        tripPolicy: CircuitBreaker.consecutive(5),
        openDuration: "30 seconds"
      })
      // Their errors (RateLimiterError, CircuitBreakerError) are not HttpClientErrors; the provider reads any
      // failure of its client as a transport failure (a ConnectionError), so they reach the caller as such.
      const limited = client.pipe(
        HttpClient.withRateLimiter({
          limiter,
          key: "anthropic",
          limit: 300,
          window: "1 minute",
          algorithm: "token-bucket",
          ...(times === undefined ? {} : { times })
        }),
        HttpClient.retryTransient({ times: 2, schedule: Schedule.exponential("500 millis") })
      ) as unknown as HttpClient.HttpClient
      return limited.pipe(HttpClient.withCircuitBreaker({ breaker })) as unknown as HttpClient.HttpClient
    })
  ).pipe(
    Layer.provide(FetchHttpClient.layer),
    Layer.provide(RateLimiter.layer.pipe(Layer.provide(RateLimiter.layerStoreMemory))),
    Layer.provide(CircuitBreaker.layerStoreMemory())
  )

const model = mode === "provider" || mode === "provider-redis"
  ? Anthropic.layer({ apiKey: Redacted.make("bench"), model: "m", baseUrl: url }).pipe(
    Layer.provide(FetchHttpClient.layer),
    Layer.provide(
      mode === "provider"
        ? FleetStore.layerMemory
        : FleetStoreRedis.layer({
          host: "127.0.0.1",
          port: Number(redisPort),
          ...(prefix === undefined ? {} : { prefix })
        })
    )
  )
  : Anthropic.layer({ apiKey: Redacted.make("bench"), model: "m", baseUrl: url, retry: false }).pipe(
    Layer.provide(Builtins(mode === "builtins-times-3" ? 3 : undefined))
  )

const call = Stream.runDrain(LanguageModel.streamText({ prompt: "hi" }))
// The store's fall-backs to local state, as its warnings say them (the only lines kept).
const fallbacks: Array<string> = []
const logger = Logger.layer([
  Logger.make(({ logLevel, message }) => {
    const text = (Array.isArray(message) ? message : [message]).map(String).join(" ")
    if (logLevel === "Warn" && text.startsWith("fleet store")) fallbacks.push(text)
  })
])

// The layer lives as long as the process: the limiter's dispatcher is a fiber of its scope.
const runtime = ManagedRuntime.make(Layer.merge(model, logger))
await runtime.runPromise(Effect.void)
const callOnce = () => runtime.runPromiseExit(call)

await readyThenGo()

const exits = await Promise.all(Array.from({ length: calls }, callOnce))
const finishedAt = Date.now()
console.log(JSON.stringify({
  done: exits.filter(Exit.isSuccess).length,
  failed: exits.filter(Exit.isFailure).length,
  fallbacks: fallbacks.length,
  firstFallback: fallbacks[0],
  finishedAt
}))
process.exit(0)
