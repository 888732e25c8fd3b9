import { Clock, Effect, Logger, LogLevel, Stream } from "effect"
import { AdaptiveRateLimiter, FleetStore, RetryingModel, Tenant } from "effect-retry-layer"
import { ThrottledModel } from "effect-retry-layer/testing"

// Two customers of one key paced at 30 requests/s: globex queues 300 calls first, then acme (which pays for
// twice the share) queues 300; what each gets in the next 5 seconds.
const program = Effect.gen(function*() {
  const [server] = yield* ThrottledModel.make({ capacity: 100, latency: "20 millis" })
  const limited = yield* AdaptiveRateLimiter.decorate({ initialRate: 30, maxRate: 30, burst: 1 })(server)
  const model = RetryingModel.make(limited, { maxAttempts: 5 })
  const sent: Record<string, Array<number>> = { acme: [], globex: [] }
  const call = (tenant: string) =>
    Effect.flatMap(model.chatStream({ messages: [{ role: "user", content: "hi" }] }), Stream.runDrain).pipe(
      Effect.andThen(Clock.currentTimeMillis),
      Effect.map((at) => void sent[tenant]!.push(at))
    )
  const start = yield* Clock.currentTimeMillis
  for (const tenant of [{ key: "globex", weight: 1 }, { key: "acme", weight: 2 }]) {
    yield* Effect.forkScoped(
      Effect.forEach(Array.from({ length: 300 }), () => call(tenant.key).pipe(Tenant.withTenant(tenant)), {
        concurrency: "unbounded"
      })
    )
  }
  yield* Effect.sleep("5 seconds")
  const inFive = (tenant: string) => sent[tenant]!.filter((at) => at < start + 5_000).length
  const ratio = inFive("acme") / inFive("globex")
  console.log(`in 5 s: acme ${inFive("acme")}, globex ${inFive("globex")} calls answered`)
  console.log(`acme got ${ratio > 1.8 && ratio < 2.2 ? "twice" : `${ratio.toFixed(2)}x`} globex's share`)
})

Effect.runPromise(
  program.pipe(Effect.scoped, Effect.provide(FleetStore.layerMemory), Logger.withMinimumLogLevel(LogLevel.None))
)
