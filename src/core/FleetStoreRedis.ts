/**
 * The fleet store on Redis, for many processes: processes that use the same
 * keys on the same Redis share one retry budget and one send rate.
 *
 * Each operation is a step, atomic in Redis, sent over `ioredis`, an
 * optional peer dependency loaded only by this entry point: the memory
 * store's own step (`internal/fleetSteps`), run in Redis as Lua generated
 * from it, over the key's state held as one MessagePack value (Redis's own
 * `cmsgpack`, which every Redis since 2.6 has in its Lua). The operations that
 * answer nothing (a first attempt, a delivery, a settlement, a sighting)
 * travel in one script with the process's next operation that does, or at the
 * end of the event loop's turn (at most 256 wait; past that a record waits
 * for its script; see `internal/scriptPipe`): a call on the happy path waits
 * for two round trips, its reservation and its send slot, and its records
 * follow. If a script fails, the records in it are lost, as with a Redis
 * that applied them and went away, and the next operation on their key is
 * answered locally. Time is the
 * caller's `Clock`, passed to the script, so virtual time works here too; keep
 * the fleet's clocks in sync (NTP) as for any shared deadline.
 *
 * Faults: every operation has a timeout (`timeout`, default 50 ms); after a
 * failure, or while Redis is unreachable, operations are answered from
 * process-local state for `coolDown` (default 2 s) before Redis is tried
 * again. One warning per outage; the client's own connection errors are not
 * re-emitted ("Unhandled error event"). A call never waits longer than
 * `timeout` for the store (and one turn of the event loop: a reply that
 * arrived while the process was busy, a GC pause or a CPU-bound handler, is
 * read before the store is taken for gone).
 *
 * Corrupt keys: a value this library did not write (`inf`, `1e300`, text, a
 * key of another type) resets the key, with one warning naming it, and the
 * operation answers from a clean state. Keys carry the layout's version
 * (`<prefix>v4:...`), so two versions sharing a prefix never misread each other.
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
 * @since 0.1.0
 */
import type * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type { RedisOptions } from "ioredis"
import { Cluster, Redis } from "ioredis"
import { type ConfigError, type DurationInput, layerScoped } from "../internal/compat.js"
import * as FleetStore from "./FleetStore.js"
import * as Ops from "./internal/fleetOps.js"
import { lua } from "./internal/fleetSteps.lua.js"
import type { InvalidOptions } from "./internal/invalidOptions.js"
import { validated } from "./internal/invalidOptions.js"
import * as Fields from "./internal/optionFields.js"
import * as ScriptPipe from "./internal/scriptPipe.js"

/**
 * @category models
 * @since 0.1.0
 */
export interface Options extends RedisOptions {
  /** Prefix of every key this store writes. Default `"effect-retry-layer:"`. */
  readonly prefix?: string
  /** Longest wait for one operation (a reply that arrived meanwhile is read first). Default 50 ms. */
  readonly timeout?: DurationInput
  /** How long to use process-local state after a failure before trying Redis again. Default 2 s. */
  readonly coolDown?: DurationInput
  /** How long an idle key lives. Default 1 hour. */
  readonly ttl?: DurationInput
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
 * and keeps trying, as after any failure. (Long for one reason: the
 * connection it opens or borrows, and the `run` and `tell` through which the
 * eight operations reach the script.)
 *
 * Fails with `InvalidOptions` when `timeout` (up to a minute), `coolDown`, `ttl` or `prefix` is not valid.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: Options = {}): Effect.Effect<FleetStore.Service, InvalidOptions, Scope.Scope> =>
  validated(() => {
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
            // A backstop that frees the client's queue of a Redis that never answers: the store's own timeout
            // decides. ioredis's timer fires before a reply waiting in the socket is read (the store's reads it
            // first, see internal/storeTimeout), so after a stall of the event loop longer than the backstop it
            // would fail commands Redis had answered: at the timeout and 1 s, a 3 s GC pause took a working
            // store for dead. 10 s past the timeout: a longer stall is a process in trouble anyway.
            commandTimeout: Math.ceil(timeoutMillis) + 10_000,
            ...redisOptions,
            lazyConnect: true
          })
        ),
        (redis) => Effect.promise(() => redis.quit().catch(() => redis.disconnect()))
      ))
      connection.defineCommand("erlSteps", { lua: script })
      if (client === undefined) {
        // The wrapper logs an outage once; the client would otherwise print every reconnect failure.
        connection.on("error", () => {})
        yield* Effect.promise(() => connection.connect().then(() => true, () => false)).pipe(
          Effect.raceFirst(Effect.as(Effect.sleep("2 seconds"), false)),
          Effect.flatMap((connected) =>
            connected
              ? Effect.void
              : Effect.logWarning(`fleet store ${label}: not reachable at start-up; starting local`)
          )
        )
      }
      const redis = connection as unknown as Scripted
      const stepOf = (op: Ops.Op, key: string, now: number, args: unknown): ScriptPipe.Step => ({
        op,
        key: `${own.prefix}${keyVersion}:${key}`,
        now,
        args: JSON.stringify(args)
      })
      const reset = (key: string) =>
        Effect.logWarning(
          `fleet store ${label}: ${key} held a value this library did not write (corrupt, or another ` +
            `version's); reset to a clean state`
        )
      // A told step's outcome is read for its key: a reset is warned of with the process's next operation; a
      // failure fails the next operation on the key, which the store then answers locally (see
      // FleetStore.resilient) rather than go on telling a store that is gone.
      const resets = new Set<string>()
      const failures = new Map<string, string>()
      const warned = Effect.suspend(() => {
        if (resets.size === 0) return Effect.void
        const keys = [...resets]
        resets.clear()
        return Effect.forEach(keys, reset, { discard: true })
      })
      const failed = (op: string, key: string) =>
        Effect.suspend(() => {
          const message = failures.get(key)
          if (message === undefined) return Effect.void
          failures.delete(key)
          return Effect.fail(new FleetStore.FleetStoreError({ message: `${op}: an earlier step failed: ${message}` }))
        })
      const pipe = ScriptPipe.make({
        // one script's keys, then its time to live and five arguments a step
        send: (steps, told) => {
          const keys: Array<string> = []
          const index = new Map<string, number>()
          const argv: Array<string | number> = [ttlMillis]
          steps.forEach((step, i) => {
            let k = index.get(step.key)
            if (k === undefined) index.set(step.key, k = keys.push(step.key))
            argv.push(k, step.op, step.now, step.args, told[i] ? 1 : 0)
          })
          return redis.erlSteps(keys.length, ...keys, ...argv)
        },
        // a Cluster's keys live on different nodes: a script there touches one key
        group: (key) => connection instanceof Cluster ? key : "",
        told: (step, [flag, reply]) => {
          if (flag === "reset") resets.add(step.key)
          else if (flag === "error") failures.set(step.key, reply.slice(0, 200))
        }
      })
      // One operation: its step goes at once, in one script with the steps told before it; the reply is the
      // step's, as JSON (every number finite: the script refuses to write others).
      const run: Ops.RunStep<FleetStore.FleetStoreError> = (op, key, now, args) => {
        const step = stepOf(op, key, now, args)
        return Effect.andThen(
          failed(op, step.key),
          Effect.tryPromise({
            try: () => pipe.ask(step),
            catch: (cause) =>
              new FleetStore.FleetStoreError({
                message: `${op} failed: ${cause instanceof Error ? cause.message : String(cause)}`,
                cause
              })
          })
        ).pipe(
          Effect.tap(([flag]) => Effect.andThen(warned, flag === "reset" ? reset(step.key) : Effect.void)),
          // A reply that does not parse is a store failure (answered locally), never a defect of the caller.
          Effect.flatMap(([flag, reply]) =>
            Effect.try({
              try: () => {
                if (flag === "error") throw new Error(reply)
                return JSON.parse(reply) as Ops.Reply<typeof op>
              },
              catch: (cause) =>
                new FleetStore.FleetStoreError({
                  message: flag === "error"
                    ? `${op} failed: ${String(reply).slice(0, 200)}`
                    : `${op}: a reply that is not JSON: ${String(reply).slice(0, 40)}`,
                  cause
                })
            })
          )
        )
      }
      const tell: Ops.TellStep<FleetStore.FleetStoreError> = (op, key, now, args) =>
        Effect.suspend(() => {
          const step = stepOf(op, key, now, args)
          return failed(op, step.key).pipe(
            Effect.andThen(() => {
              const sent = pipe.tell(step)
              return sent === undefined ? Effect.void : Effect.promise(() => sent)
            }),
            Effect.andThen(warned)
          )
        })

      const primary: FleetStore.Fallible = Ops.operations(run, tell)
      return FleetStore.resilient(primary, { label, timeout: own.timeout, coolDown: own.coolDown })
    })
  })

/**
 * Provides the {@link make} store as the `FleetStore`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options?: Options): Layer.Layer<FleetStore.FleetStore, InvalidOptions> =>
  layerScoped(FleetStore.FleetStore, make(options))

/**
 * {@link layer} with its options read from `Config`, e.g.
 * `Config.all({ host: Config.string("REDIS_HOST"), port: Config.integer("REDIS_PORT") })` (on Effect 4,
 * `Config.String` and `Config.Int`).
 *
 * @category layers
 * @since 0.1.0
 */
export const layerConfig = (
  options: Config.Config<Options>
): Layer.Layer<FleetStore.FleetStore, ConfigError | InvalidOptions> =>
  layerScoped(
    FleetStore.FleetStore,
    Effect.gen(function*() {
      return yield* make(yield* options)
    })
  )

// Internals -------------------------------------------------------------------

// This store's own options; the rest go to ioredis as they are.
const decodeOwn = Fields.reader(
  "FleetStoreRedis",
  Fields.struct<{
    readonly prefix: string
    readonly timeout: Duration.Duration
    readonly coolDown: Duration.Duration
    readonly ttl: Duration.Duration
  }>({
    prefix: Fields.withDefault(Fields.string(false), () => "effect-retry-layer:"),
    timeout: Fields.withDefault(
      Fields.duration({ finite: true, positive: true, atMost: { millis: 60_000, says: "a minute" } }),
      () => Duration.millis(50)
    ),
    coolDown: Fields.withDefault(Fields.duration({ finite: true }), () => Duration.seconds(2)),
    ttl: Fields.withDefault(Fields.duration({ finite: true, positive: true }), () => Duration.hours(1))
  }, { excess: "ignore" })
)

// What the store calls on a client, Redis or Cluster alike: its script, as a command defined on it (the number of
// keys, the keys, then the arguments).
interface Scripted {
  erlSteps(...args: Array<string | number>): Promise<ReadonlyArray<ScriptPipe.Outcome>>
}

// The layout of the values the script reads, in every key's name: a version that reads a value differently
// uses other keys, so two versions sharing a prefix never misread each other's. (v2: a hash of fields, one
// script per operation; v3: the state of internal/fleetSteps as one JSON value; v4: as one MessagePack value.)
const keyVersion = "v4"

// Every step: the step of internal/fleetSteps (generated Lua) on the key's state, one MessagePack value; a script
// runs a process's steps in order, each key read before its first and written after its last.
// Redis adds only what is Redis's: reading and writing the state, its expiry, and the reset of a key this
// library did not write: bytes that are not MessagePack, a key of another type, or a state the steps' `valid`
// refuses (`inf`, `1e300`, a balance above its limit): the key is deleted, the step runs from a clean state and
// the reply's first element says "reset" (the caller warns, naming the key). The state is MessagePack, not JSON,
// for Redis's CPU: Lua formats a number as text in about 0.25 us, and writing the limiter's state as JSON took
// 28 us, 1.4 us packed (its doubles kept to the bit). Replies, which the process reads, are JSON, their numbers
// as "%.17g" (cjson's own encoding keeps 14 digits; a reply rounded there could differ from the memory store's
// in the last digit). A number that is not finite is refused as an error, never written or handed to a caller:
// the key's steps in that script all answer the error, and nothing of them is written.
const script = `
local steps = (function()
${lua}
end)()
local floor = math.floor
local function whole(x) return x == floor(x) and x > -1e14 and x < 1e14 end
-- Refuses a number that is not finite, anywhere in x (a state to write, a reply to send).
local function finite(x)
  if type(x) == "number" then
    if x ~= x or x == math.huge or x == -math.huge then error("a number that is not finite: " .. tostring(x)) end
  elseif type(x) == "table" then
    for _, v in pairs(x) do finite(v) end
  end
end
local function encode(x)
  local t = type(x)
  if t == "number" then
    if whole(x) then return tostring(x) end
    finite(x)
    return string.format("%.17g", x)
  elseif t == "table" then
    local n = #x
    if n > 0 then
      -- Lua's own conversion (14 digits) is exact for whole numbers below 1e14: an array of them (the rings'
      -- epochs and counts) is joined in one call.
      local plain = true
      for i = 1, n do
        local v = x[i]
        if type(v) ~= "number" or not whole(v) then plain = false break end
      end
      if plain then return "[" .. table.concat(x, ",") .. "]" end
      local parts = {}
      for i = 1, n do parts[i] = encode(x[i]) end
      return "[" .. table.concat(parts, ",") .. "]"
    end
    local parts = {}
    -- (the keys are the steps' field and dimension names: nothing in them to escape)
    for k, v in pairs(x) do parts[#parts + 1] = '"' .. k .. '":' .. encode(v) end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  return cjson.encode(x)
end
-- ARGV: the keys' time to live, then five a step: its key's index in KEYS, the operation, now, its arguments as
-- JSON, and 1 when its reply is not wanted.
local ttl = tonumber(ARGV[1])
local count = (#ARGV - 1) / 5
-- Per key: its state, read once and written once after its last step; whether it was reset; why a step on it
-- failed (then nothing of this script is written to it, and each of its steps answers the error).
local state, loaded, dirty, reset, failed, last = {}, {}, {}, {}, {}, {}
for n = 0, count - 1 do last[tonumber(ARGV[2 + 5 * n])] = n end
local replies = {}
for n = 0, count - 1 do
  local at = 2 + 5 * n
  local k, op, now = tonumber(ARGV[at]), ARGV[at + 1], tonumber(ARGV[at + 2])
  local key = KEYS[k]
  if not failed[k] then
    local ok, err = pcall(function()
      local args = cjson.decode(ARGV[at + 3])
      if not loaded[k] then
        loaded[k] = true
        local raw = redis.pcall("GET", key)
        if type(raw) == "table" and raw.err then
          if not string.find(raw.err, "WRONGTYPE", 1, true) then error(raw.err) end
          reset[k] = true
        elseif raw then
          local good, found = pcall(function()
            local decoded = cmsgpack.unpack(raw)
            if steps.valid[op](decoded, now, args) then return decoded end
          end)
          if good and found ~= nil then state[k] = found else reset[k] = true end
        end
      end
      local out = steps.steps[op](state[k], now, args)
      if out.state ~= nil then
        state[k] = out.state
        dirty[k] = true
      end
      replies[n + 1] = ARGV[at + 4] == "1" and "" or encode(out.reply)
    end)
    if not ok then failed[k] = tostring(err) end
  end
  if n == last[k] and not failed[k] then
    local ok, value = pcall(function()
      if not dirty[k] then return nil end
      finite(state[k])
      return cmsgpack.pack(state[k])
    end)
    if not ok then
      failed[k] = tostring(value)
    else
      if reset[k] then redis.call("DEL", key) end
      if value ~= nil then redis.call("SET", key, value, "PX", ttl) end
    end
  end
end
local out = {}
for n = 0, count - 1 do
  local k = tonumber(ARGV[2 + 5 * n])
  if failed[k] then out[n + 1] = { "error", failed[k] } else out[n + 1] = { reset[k] and "reset" or "", replies[n + 1] } end
end
return out
`
