/**
 * The fleet store on Redis, for many processes: processes that use the same
 * keys on the same Redis share one retry budget and one send rate.
 *
 * Each key's state is a small JSON value; an operation applies the fleet's
 * step (the same code the memory store runs) to the state this process last
 * saw, and one Lua script writes the result only if the key still holds that
 * state (else it answers with what the key holds, and the step is applied
 * again). A process's concurrent operations on one key go as one batch: one
 * round trip per batch whatever the concurrency. Over `ioredis`, an optional
 * peer dependency loaded only by this entry point. Time is the caller's
 * `Clock`, so virtual time works here too; keep the fleet's clocks in sync
 * (NTP) as for any shared deadline.
 *
 * Faults: every operation has a timeout (`timeout`, default 50 ms); after a
 * failure, or while Redis is unreachable, operations are answered from
 * process-local state for `coolDown` (default 2 s) before Redis is tried
 * again. One warning per outage; the client's own connection errors are not
 * re-emitted ("Unhandled error event"). A call never waits longer than
 * `timeout` for the store.
 *
 * Corrupt keys: a value this library did not write (`inf`, `1e300`, text, a
 * key of another type) resets the key, with one warning naming it, and the
 * operation answers from a clean state. Keys carry the layout's version
 * (`<prefix>v3:...`), so two versions sharing a prefix never misread each other.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { ResilientModel } from "effect-retry-layer"
 * import { FleetStoreRedis } from "effect-retry-layer/redis"
 *
 * declare const AnthropicLive: Layer.Layer<import("effect-retry-layer").CompletionModel.CompletionModel>
 *
 * const Model = ResilientModel.layer().pipe(
 *   Layer.provide(AnthropicLive),
 *   Layer.provide(FleetStoreRedis.layer({ host: "127.0.0.1", port: 6379 }))
 * )
 * ```
 *
 * @since 0.2.0
 */
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type { RedisOptions } from "ioredis"
import { Cluster, Redis } from "ioredis"
import * as FleetStore from "./FleetStore.js"
import * as Options_ from "./internal/schema.js"

/**
 * @since 0.2.0
 */
export interface Options extends RedisOptions {
  /** Prefix of every key this store writes. Default `"effect-retry-layer:"`. */
  readonly prefix?: string
  /** Longest wait for one operation. Default 50 ms. */
  readonly timeout?: Duration.DurationInput
  /** How long to use process-local state after a failure before trying Redis again. Default 2 s. */
  readonly coolDown?: Duration.DurationInput
  /** How long an idle key lives. Default 1 hour. */
  readonly ttl?: Duration.DurationInput
  /**
   * An `ioredis` client of your own (a `Redis`, Sentinel included, or a `Cluster`: each operation touches one
   * key) to use instead of one the store opens: the store defines its scripts on it and never closes it, and the
   * connection options here are not used. Its commands queue as you configured them; the store's `timeout`
   * still bounds every operation.
   */
  readonly client?: Redis | Cluster
}

/**
 * The store on a Redis server; the connection lives as long as the scope.
 * If Redis does not answer at start-up the store begins in its local mode
 * and keeps trying, as after any failure.
 *
 * @throws InvalidOptions when `timeout` (up to a minute), `coolDown`, `ttl` or `prefix` is not valid
 *
 * @since 0.2.0
 */
export const make = (options: Options = {}): Effect.Effect<FleetStore.Service, never, Scope.Scope> => {
  const { client, coolDown, prefix, timeout, ttl, ...redisOptions } = options
  const own = decodeOwn(
    Object.fromEntries(Object.entries({ coolDown, prefix, timeout, ttl }).filter(([, v]) => v !== undefined))
  )
  return Effect.gen(function*() {
    const timeoutMillis = Duration.toMillis(own.timeout)
    const ttlMillis = Math.round(Duration.toMillis(own.ttl))
    const label = client !== undefined
      ? `redis ${client instanceof Cluster ? "cluster" : "client"}`
      : `redis ${redisOptions.host ?? "localhost"}:${redisOptions.port ?? 6379}`
    // A client of the user's is theirs to connect and close; one of the store's own lives as long as the scope.
    const connection: Redis | Cluster = client ?? (yield* Effect.acquireRelease(
      Effect.sync(() =>
        new Redis({
          // Fail fast rather than queue: a command for a Redis that is away waits for nothing.
          enableOfflineQueue: false,
          autoResendUnfulfilledCommands: false,
          maxRetriesPerRequest: 0,
          commandTimeout: Math.max(1, Math.ceil(timeoutMillis)),
          ...redisOptions,
          lazyConnect: true
        })
      ),
      (redis) => Effect.promise(() => redis.quit().catch(() => redis.disconnect()))
    ))
    connection.defineCommand("erlUpdate", { numberOfKeys: 1, lua: update })
    if (client === undefined) {
      // The wrapper logs an outage once; the client would otherwise print every reconnect failure.
      connection.on("error", () => {})
      yield* Effect.promise(() => connection.connect().then(() => true, () => false)).pipe(
        Effect.timeoutTo({ duration: "2 seconds", onSuccess: (connected) => connected, onTimeout: () => false }),
        Effect.flatMap((connected) =>
          connected ? Effect.void : Effect.logWarning(`fleet store ${label}: not reachable at start-up; starting local`)
        )
      )
    }
    const redis = connection as unknown as Scripted
    const lanes = new Map<string, Lane>()
    const primary: FleetStore.Fallible = {
      update: <S, A>(key: string, kind: FleetStore.Kind<S>, now: number, step: FleetStore.Step<S, A>) =>
        Effect.async<A, FleetStore.FleetStoreError>((resume) => {
          const redisKey = `${own.prefix}${keyVersion}:${key}`
          let lane = lanes.get(redisKey)
          if (lane === undefined) {
            lane = { key: redisKey, seen: "", queue: [], busy: false }
            lanes.set(redisKey, lane)
          }
          const ask: Ask = {
            kind,
            now,
            step: step as FleetStore.Step<unknown, unknown>,
            resume: (answer) => resume(answer as Effect.Effect<A, FleetStore.FleetStoreError>),
            dropped: false
          }
          lane.queue.push(ask)
          if (!lane.busy) drain(redis, lane, label, ttlMillis, timeoutMillis)
          return Effect.sync(() => {
            ask.dropped = true
          })
        })
    }
    return FleetStore.resilient(primary, { label, timeout: own.timeout, coolDown: own.coolDown })
  })
}

/**
 * Provides the {@link make} store as the `FleetStore`.
 *
 * @since 0.2.0
 */
export const layer = (options?: Options): Layer.Layer<FleetStore.FleetStore> =>
  Layer.scoped(FleetStore.FleetStore, make(options))

/**
 * {@link layer} with its options read from `Config`, e.g.
 * `Config.all({ host: Config.string("REDIS_HOST"), port: Config.integer("REDIS_PORT") })`.
 *
 * @since 0.2.0
 */
export const layerConfig = (
  options: Config.Config<Options>
): Layer.Layer<FleetStore.FleetStore, ConfigError.ConfigError> =>
  Layer.scoped(FleetStore.FleetStore, Effect.flatMap(options, make))

// Internals -------------------------------------------------------------------

// This store's own options; the rest go to ioredis as they are.
const decodeOwn = Options_.options(
  Schema.Struct({
    prefix: Options_.withDefault(Schema.String, () => "effect-retry-layer:"),
    timeout: Options_.withDefault(
      Options_.PositiveFiniteDuration.pipe(
        Schema.filter((d) => Duration.lessThanOrEqualTo(d, Duration.minutes(1)) || "expected at most a minute")
      ),
      () => Duration.millis(50)
    ),
    coolDown: Options_.withDefault(Options_.FiniteDuration, () => Duration.seconds(2)),
    ttl: Options_.withDefault(Options_.PositiveFiniteDuration, () => Duration.hours(1))
  }),
  "FleetStoreRedis"
)

// What the store calls on a client, Redis or Cluster alike: its one script, as a command defined on it.
interface Scripted {
  erlUpdate(key: string, seen: string, next: string, ttl: number): Promise<[string, string, string]>
}

// The layout of the values the store writes, in every key's name: a version that reads a value differently uses
// other keys, so two versions sharing a prefix never misread each other's.
const keyVersion = "v3"

// A state is a few hundred bytes; a value far longer is not one this library wrote, and is not read.
const maxStateBytes = 65_536

// Compare and set: the key's state is written only if it is still the one the step was applied to (`seen`, ""
// for none); else the reply carries the state there now, for the step to be applied again. A key holding
// something else (another type, or a value too long to be a state) is deleted first, and the reply says "reset".
const update = `
local key = KEYS[1]
local reset = ""
local length = redis.pcall("STRLEN", key)
if type(length) ~= "number" or length > ${maxStateBytes} then
  redis.call("DEL", key)
  reset = "reset"
end
local current = redis.call("GET", key) or ""
if current ~= ARGV[1] then return { "stale", current, reset } end
if ARGV[2] ~= "" then redis.call("SET", key, ARGV[2], "PX", ARGV[3]) end
return { "ok", "", reset }
`

interface Ask {
  readonly kind: FleetStore.Kind<unknown>
  readonly now: number
  readonly step: FleetStore.Step<unknown, unknown>
  readonly resume: (answer: Effect.Effect<unknown, FleetStore.FleetStoreError>) => void
  dropped: boolean
}

// The updates of one key from this process go one batch at a time: while one is on its way, the next gather,
// and go together as one compare-and-set (the steps applied in turn). Concurrent callers then never race each
// other's writes, and a key costs one round trip per batch, whatever the process's concurrency.
interface Lane {
  readonly key: string
  // The value this process last saw at the key: a compare-and-set from it is one round trip when no other
  // process wrote since.
  seen: string
  queue: Array<Ask>
  busy: boolean
}

const drain = (redis: Scripted, lane: Lane, label: string, ttl: number, timeoutMillis: number): void => {
  const batch = lane.queue.filter((ask) => !ask.dropped)
  lane.queue = []
  lane.busy = batch.length > 0
  if (!lane.busy) return
  commit(redis, lane, batch, ttl, timeoutMillis).then(
    ({ answers, reset }) =>
      batch.forEach((ask, i) =>
        ask.resume(
          i === 0 && reset
            ? Effect.as(
              Effect.logWarning(
                `fleet store ${label}: ${lane.key} held a value this library did not write (corrupt, or another ` +
                  `version's); reset to a clean state`
              ),
              answers[i]
            )
            : Effect.succeed(answers[i])
        )
      ),
    (cause: unknown) => {
      // What the key holds now is not known: the next batch starts from a fresh read.
      lane.seen = ""
      const error = new FleetStore.FleetStoreError({
        message: `update of ${lane.key} failed: ${cause instanceof Error ? cause.message : String(cause)}`,
        cause
      })
      for (const ask of batch) ask.resume(Effect.fail(error))
    }
  ).finally(() => drain(redis, lane, label, ttl, timeoutMillis))
}

// Applies the batch's steps to the key's state as this process last saw it, and writes the result if the key
// still holds that; else applies them again to what it holds now. A value that does not decode as the kind's
// state (not one this library wrote) is replaced as if the key were empty, and reported as a reset.
const commit = async (
  redis: Scripted,
  lane: Lane,
  batch: ReadonlyArray<Ask>,
  ttl: number,
  timeoutMillis: number
): Promise<{ readonly answers: ReadonlyArray<unknown>; readonly reset: boolean }> => {
  let reset = false
  // Each failed attempt means another process wrote the key in between: attempts go on for as long as the store's
  // timeout (past it the caller has fallen back to local state), not for a count (two processes that always have
  // an update ready lost 32 in a row now and then: measured over 3 runs of 1,500 batches, 1.5 attempts a batch,
  // the slowest batch 68-94 ms).
  const deadline = Date.now() + timeoutMillis
  while (Date.now() < deadline) {
    let state = lane.seen === "" ? undefined : parse(lane.seen, batch[0]!.kind, batch[0]!.now)
    if (state === corrupt) {
      reset = true
      state = undefined
    }
    let changed = false
    const answers = batch.map((ask) => {
      const [answer, next] = ask.step(state, false)
      if (next !== undefined) {
        state = next
        changed = true
      }
      return answer
    })
    const next = changed ? JSON.stringify(state) : ""
    const [outcome, current, flag] = await within(redis.erlUpdate(lane.key, lane.seen, next, ttl), timeoutMillis)
    if (flag === "reset") reset = true
    if (outcome === "ok") {
      if (changed) lane.seen = next
      return { answers, reset }
    }
    lane.seen = current
  }
  throw new Error(`the key kept changing for ${timeoutMillis} ms`)
}

const corrupt = Symbol("corrupt")

const parse = (text: string, kind: FleetStore.Kind<unknown>, now: number): unknown => {
  try {
    return kind.decode(JSON.parse(text), now) ?? corrupt
  } catch {
    return corrupt
  }
}

// A command of a client the store does not own may queue without a timeout of its own: a lane waits for it at
// most the store's timeout, then takes the next batch (the late reply is not used).
const within = <A>(promise: Promise<A>, millis: number): Promise<A> =>
  new Promise<A>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${millis} ms`)), millis)
    promise.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      (error) => {
        clearTimeout(timer)
        reject(error)
      }
    )
  })
