import { Effect, Fiber, Logger, LogLevel, Stream } from "effect"
import { AdaptiveRateLimiter, FleetStore, Priority, RetryingModel } from "effect-retry-layer"
import { ThrottledModel } from "effect-retry-layer/testing"

// One key that takes 50 requests/s (answers in 20 ms): a batch of 250 calls queued at once, and a user's
// five chat messages, one every 300 ms, while the batch runs.
const program = Effect.gen(function*() {
  const [server] = yield* ThrottledModel.make({ capacity: 50, burst: 10, latency: "20 millis" })
  const limited = yield* AdaptiveRateLimiter.decorate({ initialRate: 50, maxRate: 50, burst: 10 })(server)
  // A 429 (the key's rate is met exactly, and a busy machine's timers run late) is retried 100 ms later.
  const model = RetryingModel.make(limited, { maxAttempts: 10, baseDelay: "100 millis" })
  const call = Effect.flatMap(model.chatStream({ messages: [{ role: "user", content: "hi" }] }), Stream.runDrain)
  const start = Date.now()
  const batch = yield* Effect.fork(
    Effect.forEach(Array.from({ length: 250 }), () => call.pipe(Priority.withPriority("batch")), {
      concurrency: "unbounded"
    })
  )
  let slowest = 0
  for (let i = 0; i < 5; i++) {
    yield* Effect.sleep("300 millis")
    const from = Date.now()
    yield* call.pipe(Priority.withPriority("interactive"))
    slowest = Math.max(slowest, (Date.now() - from) / 1000)
  }
  yield* Fiber.join(batch)
  console.log(`batch: 250 calls in ${((Date.now() - start) / 1000).toFixed(1)} s`)
  console.log(
    slowest < 1
      ? `each of 5 interactive calls answered in under a second (the slowest: ${slowest.toFixed(2)} s)`
      : `the slowest interactive call took ${slowest.toFixed(1)} s`
  )
})

Effect.runPromise(
  program.pipe(Effect.scoped, Effect.provide(FleetStore.layerMemory), Logger.withMinimumLogLevel(LogLevel.None))
)
