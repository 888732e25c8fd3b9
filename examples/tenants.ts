import { Deferred, Effect, Logger, LogLevel, Stream } from "effect"
import { AdaptiveRateLimiter, FleetStore, RetryingModel, Tenant } from "effect-retry-layer"
import { ThrottledModel } from "effect-retry-layer/testing"

// Two customers of one key paced at 30 requests/s: globex queues 300 calls first, then acme (which pays for
// twice the share) queues 300; who gets the 150 answers that follow acme's first.
const program = Effect.gen(function*() {
  const [server] = yield* ThrottledModel.make({ capacity: 100, latency: "20 millis" })
  const limited = yield* AdaptiveRateLimiter.decorate({ initialRate: 30, maxRate: 30, burst: 1 })(server)
  const model = RetryingModel.make(limited, { maxAttempts: 5 })
  const answered: Array<string> = []
  const counted = yield* Deferred.make<Array<string>>()
  const call = (tenant: string) =>
    Effect.flatMap(model.chatStream({ messages: [{ role: "user", content: "hi" }] }), Stream.runDrain).pipe(
      Effect.andThen(Effect.suspend(() => {
        answered.push(tenant)
        const since = answered.slice(answered.indexOf("acme"))
        return answered.includes("acme") && since.length === 150 ? Deferred.succeed(counted, since) : Effect.void
      }))
    )
  for (const tenant of [{ key: "globex", weight: 1 }, { key: "acme", weight: 2 }]) {
    yield* Effect.forkScoped(
      Effect.forEach(Array.from({ length: 300 }), () => call(tenant.key).pipe(Tenant.withTenant(tenant)), {
        concurrency: "unbounded"
      })
    )
  }
  const since = yield* Deferred.await(counted)
  const of = (tenant: string) => since.filter((name) => name === tenant).length
  const ratio = of("acme") / of("globex")
  console.log(`of 150 answers: acme ${of("acme")}, globex ${of("globex")}`)
  console.log(`acme got ${ratio > 1.8 && ratio < 2.2 ? "twice" : `${ratio.toFixed(2)}x`} globex's share`)
})

Effect.runPromise(
  program.pipe(Effect.scoped, Effect.provide(FleetStore.layerMemory), Logger.withMinimumLogLevel(LogLevel.None))
)
