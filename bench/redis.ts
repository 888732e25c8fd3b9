/**
 * What the Redis store costs a call on the happy path: the recommended stack
 * (`ResilientModel.layer()` defaults) on `FleetStoreRedis` (defaults, but a
 * 1 s timeout: this measures the store's work, not its fallback), over a
 * provider that answers at once and sends Anthropic's rate-limit headers
 * (limits far above what the run uses, so nothing waits on them).
 *
 * Per call: Redis round trips (scripts sent), Redis CPU
 * (the server's own `INFO commandstats` microseconds) and calls per second,
 * with 1 caller and with 32 concurrent callers (calls per second is the
 * limiter's pacing from its initial rate as much as the store's cost). Runs
 * its own `redis-server`.
 */
import { Effect, Layer, Logger, LogLevel, Stream } from "effect"
import { CompletionModel, ResilientModel } from "effect-retry-layer"
import { FleetStoreRedis } from "effect-retry-layer/redis"
import { TokenLimitedModel } from "effect-retry-layer/testing"
import { Redis } from "ioredis"
import { ownRedis } from "../test/support/redis.js"
import { report } from "./support/report.js"

const request: CompletionModel.ChatRequest = { messages: [{ role: "user", content: "hi" }], maxTokens: 16 }

// The scripts Redis ran (the store sends nothing else: one script, one round trip) and the microseconds spent
// in them (a script's time includes its inner commands, which commandstats also counts on their own).
const commandStats = async (client: Redis) => {
  const info = await client.info("commandstats")
  let calls = 0
  let usec = 0
  for (const match of info.matchAll(/cmdstat_(\w+):calls=(\d+),usec=(\d+)/g)) {
    if (!match[1]!.startsWith("eval")) continue
    calls += Number(match[2])
    usec += Number(match[3])
  }
  return { calls, usec }
}

interface Row {
  readonly callers: number
  readonly calls: number
  readonly roundTripsPerCall: number
  readonly redisUsPerCall: number
  readonly callsPerSecond: number
}

const runOnce = (port: number, prefix: string, callers: number, calls: number) =>
  Effect.gen(function*() {
    const [provider] = yield* TokenLimitedModel.make({
      limits: { requests: 1e9, inputTokens: 1e9, outputTokens: 1e9 },
      headers: "anthropic",
      latency: 0
    })
    const stack = ResilientModel.layer().pipe(
      Layer.provide(Layer.succeed(CompletionModel.CompletionModel, provider)),
      Layer.provide(FleetStoreRedis.layer({ host: "127.0.0.1", port, prefix, timeout: "1 second" }))
    )
    return yield* Effect.gen(function*() {
      const model = yield* CompletionModel.CompletionModel
      const call = Effect.flatMap(model.chatStream(request), Stream.runDrain)
      // warm up: the limiter learns the limits, the scripts are loaded
      yield* Effect.all(Array.from({ length: 50 }, () => call), { concurrency: callers })
      const client = new Redis({ port, host: "127.0.0.1" })
      const before = yield* Effect.promise(() => commandStats(client))
      const started = performance.now()
      yield* Effect.all(Array.from({ length: calls }, () => call), { concurrency: callers, discard: true })
      const seconds = (performance.now() - started) / 1000
      const after = yield* Effect.promise(() => commandStats(client))
      yield* Effect.promise(() => client.quit())
      return {
        callers,
        calls,
        roundTripsPerCall: (after.calls - before.calls) / calls,
        redisUsPerCall: (after.usec - before.usec) / calls,
        callsPerSecond: calls / seconds
      } satisfies Row
    }).pipe(Effect.provide(stack))
  }).pipe(Effect.scoped, Logger.withMinimumLogLevel(LogLevel.Warning))

export const run = () =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const redis = yield* ownRedis
    const rows: Array<Row> = []
    let round = 0
    for (const [callers, calls] of [[1, 2_000], [32, 8_000]] as const) {
      rows.push(yield* runOnce(redis.port, `bench${round++}:`, callers, calls))
    }
    report(
      "redis",
      "Redis per call: the recommended stack on FleetStoreRedis, happy path, a provider with Anthropic's headers",
      rows.map((r) => ({
        ...r,
        roundTripsPerCall: Number(r.roundTripsPerCall.toFixed(2)),
        redisUsPerCall: Number(r.redisUsPerCall.toFixed(1)),
        callsPerSecond: Math.round(r.callsPerSecond)
      }))
    )
  })))
