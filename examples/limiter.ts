import { Effect, Logger, LogLevel } from "effect"
import type { CompletionModel } from "effect-retry-layer"
import { AdaptiveRateLimiter, FleetStore, RetryingModel } from "effect-retry-layer"
import { ThrottledModel } from "effect-retry-layer/testing"

// 300 callers at once against a server that takes 100 requests/s (answering in 20 ms) and says 429 beyond.
const run = <E, R>(
  label: string,
  limit: (server: CompletionModel.Service) => Effect.Effect<CompletionModel.Service, E, R>
) =>
  Effect.gen(function*() {
    const [server, stats] = yield* ThrottledModel.make({ capacity: 100, latency: "20 millis" })
    const model = RetryingModel.make(yield* limit(server), {
      maxAttempts: 30,
      baseDelay: "100 millis",
      maxDelay: "1 second"
    })
    const start = Date.now()
    yield* Effect.forEach(Array.from({ length: 300 }), () => Effect.exit(model.chatStream({ messages: [] })), {
      concurrency: "unbounded"
    })
    const { accepted, refused } = yield* stats
    console.log(
      `${label}: ${accepted} done in ${((Date.now() - start) / 1000).toFixed(1)} s with ${accepted + refused} calls`
    )
  })

const program = Effect.gen(function*() {
  yield* run("retries alone           ", Effect.succeed)
  yield* run("with the adaptive limiter", AdaptiveRateLimiter.decorate())
})

Effect.runPromise(
  program.pipe(Effect.scoped, Effect.provide(FleetStore.layerMemory), Logger.withMinimumLogLevel(LogLevel.None))
)
