import { Effect, Logger, LogLevel, Stream } from "effect"
import { AdaptiveRateLimiter, Deadline, FleetStore, RetryingModel } from "effect-retry-layer"
import { ThrottledModel } from "effect-retry-layer/testing"

// A key paced at 20 requests/s (answers in 50 ms), 100 calls already queued on it, and two more: one from a
// handler with 2 s left, one with 10 s.
const program = Effect.gen(function*() {
  const [server] = yield* ThrottledModel.make({ capacity: 50, latency: "50 millis" })
  const limited = yield* AdaptiveRateLimiter.decorate({ initialRate: 20, maxRate: 20, burst: 1 })(server)
  const model = RetryingModel.make(limited, { maxAttempts: 5 })
  const call = Effect.flatMap(model.chatStream({ messages: [{ role: "user", content: "hi" }] }), Stream.runDrain)
  yield* Effect.forkScoped(Effect.forEach(Array.from({ length: 100 }), () => call, { concurrency: "unbounded" }))
  yield* Effect.sleep("500 millis")
  for (const within of ["2 seconds", "10 seconds"] as const) {
    const start = Date.now()
    const outcome = yield* Effect.either(call.pipe(Deadline.withDeadline(within)))
    const seconds = (Date.now() - start) / 1000
    console.log(
      outcome._tag === "Right"
        ? `with ${within}: answered in time`
        : `with ${within}: ${outcome.left._tag} ${seconds < 0.5 ? "at once" : `after ${seconds.toFixed(1)} s`}, ` +
          outcome.left.message
    )
  }
})

Effect.runPromise(
  program.pipe(Effect.scoped, Effect.provide(FleetStore.layerMemory), Logger.withMinimumLogLevel(LogLevel.None))
)
