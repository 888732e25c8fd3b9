/**
 * The fleet store on Redis, for many processes: processes that use the same
 * keys on the same Redis share one retry budget and one send rate.
 *
 * Each operation is one Lua script (atomic in Redis) sent over `ioredis`, an
 * optional peer dependency loaded only by this entry point. Time is the
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
 * (`<prefix>v2:...`), so two versions sharing a prefix never misread each other.
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
import type { InvalidOptions } from "./internal/options.js"
import { validated } from "./internal/options.js"
import * as Options_ from "./internal/schema.js"
import { dimensions } from "./internal/tokens.js"

/**
 * @category models
 * @since 0.2.0
 */
export interface Options extends RedisOptions {
  /** Prefix of every key this store writes. Default `"effect-retry-layer:"`. */
  readonly prefix?: string
  /** Longest wait for one operation (a reply that arrived meanwhile is read first). Default 50 ms. */
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
 * and keeps trying, as after any failure. (Long for one reason: the seven
 * operations, each the arguments of its script and the decoding of its
 * reply, over one connection and one `run`.)
 *
 * Fails with `InvalidOptions` when `timeout` (up to a minute), `coolDown`, `ttl` or `prefix` is not valid.
 *
 * @category constructors
 * @since 0.2.0
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
            // A backstop that frees the client's queue: the store's own timeout decides (ioredis's timer fires
            // before a reply waiting in the socket is read; the store's reads it first, see internal/storeTimeout).
            commandTimeout: Math.ceil(timeoutMillis) + 1_000,
            ...redisOptions,
            lazyConnect: true
          })
        ),
        (redis) => Effect.promise(() => redis.quit().catch(() => redis.disconnect()))
      ))
      for (const [name, lua] of Object.entries(scripts)) {
        connection.defineCommand(name, { numberOfKeys: 1, lua: helpers + lua })
      }
      if (client === undefined) {
        // The wrapper logs an outage once; the client would otherwise print every reconnect failure.
        connection.on("error", () => {})
        yield* Effect.promise(() => connection.connect().then(() => true, () => false)).pipe(
          Effect.timeoutTo({ duration: "2 seconds", onSuccess: (connected) => connected, onTimeout: () => false }),
          Effect.flatMap((connected) =>
            connected
              ? Effect.void
              : Effect.logWarning(`fleet store ${label}: not reachable at start-up; starting local`)
          )
        )
      }
      const redis = connection as unknown as Scripted
      // One operation on the key's hash: its reply (after the script's "reset" flag, warned of once per reset),
      // decoded; a number that is not finite is refused as a store failure, never handed to a caller.
      const run = <A>(
        name: string,
        key: string,
        call: (redisKey: string) => Promise<unknown>,
        decode: (reply: ReadonlyArray<string>) => A
      ) => {
        const redisKey = `${own.prefix}${keyVersion}:${key}`
        return Effect.tryPromise({
          try: () => call(redisKey) as Promise<Array<string>>,
          catch: (cause) =>
            new FleetStore.FleetStoreError({
              message: `${name} failed: ${cause instanceof Error ? cause.message : String(cause)}`,
              cause
            })
        }).pipe(
          Effect.tap(([flag]) =>
            flag === "reset"
              ? Effect.logWarning(
                `fleet store ${label}: ${redisKey} held a value this library did not write (corrupt, or another ` +
                  `version's); reset to a clean state`
              )
              : Effect.void
          ),
          Effect.flatMap(([, ...reply]) =>
            Effect.try({
              try: () => decode(reply),
              catch: (cause) =>
                new FleetStore.FleetStoreError({ message: `${name}: ${(cause as Error).message}`, cause })
            })
          )
        )
      }

      const primary: FleetStore.Fallible = {
        budget: (key, now, window, ask) =>
          run(
            "budget",
            key,
            (redisKey) =>
              redis.erlBudget(
                redisKey,
                now,
                window.bucketMillis,
                window.buckets,
                asks[ask._tag],
                ask._tag === "Peek" ? 0 : ask.count,
                ask._tag === "Retry" ? ask.ratio : 0,
                ask._tag === "Retry" ? ask.minimum : 0,
                ttlMillis
              ),
            ([granted, firstAttempts, retries]) => ({
              granted: finite(granted),
              firstAttempts: finite(firstAttempts),
              retries: finite(retries)
            })
          ),
        take: (key, now, window, rate, burst, count = 1) =>
          run(
            "take",
            key,
            (redisKey) =>
              redis.erlTake(redisKey, now, window.bucketMillis, window.buckets, rate, burst, ttlMillis, count),
            ([wait, taken, ...control]) => ({
              wait: finite(wait),
              taken: finite(taken),
              control: decodeControl(control)
            })
          ),
        delivered: (key, now, window, d) =>
          run(
            "delivered",
            key,
            (redisKey) =>
              redis.erlDelivered(
                redisKey,
                now,
                window.bucketMillis,
                window.buckets,
                d.count,
                d.growth,
                d.restartAbove,
                d.restartGrowth,
                ttlMillis
              ),
            () => undefined
          ),
        throttled: (key, now, window, t) =>
          run(
            "throttled",
            key,
            (redisKey) =>
              redis.erlThrottled(
                redisKey,
                now,
                window.bucketMillis,
                window.buckets,
                t.sentAt,
                t.rate,
                t.burst,
                t.minRate,
                t.recovery,
                t.holdUntil,
                ttlMillis,
                t.beta
              ),
            decodeControl
          ),
        reserve: (key, now, cost) =>
          run(
            "reserve",
            key,
            (redisKey) => redis.erlReserve(redisKey, now, ttlMillis, ...dimensions.map((d) => cost[d] ?? "")),
            ([wait, ...reply]) => {
              const field = (offset: number) =>
                Object.fromEntries(
                  dimensions.flatMap((d, i) => {
                    const value = reply[3 * i + offset]
                    return value === undefined || value === "" ? [] : [[d, finite(value)]]
                  })
                )
              return { wait: finite(wait), charged: field(0), left: field(1), counted: field(2) }
            }
          ),
        settle: (key, now, delta) =>
          run(
            "settle",
            key,
            (redisKey) => redis.erlSettle(redisKey, now, ttlMillis, ...dimensions.map((d) => delta[d] ?? "")),
            () => undefined
          ),
        observe: (key, now, seen) =>
          run(
            "observe",
            key,
            (redisKey) =>
              redis.erlObserve(
                redisKey,
                now,
                ttlMillis,
                ...dimensions.flatMap((d) => [
                  seen[d]?.limit ?? "",
                  seen[d]?.remaining ?? "",
                  seen[d]?.expected ?? "",
                  seen[d]?.counted ?? ""
                ])
              ),
            () => undefined
          )
      }
      return FleetStore.resilient(primary, { label, timeout: own.timeout, coolDown: own.coolDown })
    })
  })

/**
 * Provides the {@link make} store as the `FleetStore`.
 *
 * @category layers
 * @since 0.2.0
 */
export const layer = (options?: Options): Layer.Layer<FleetStore.FleetStore, InvalidOptions> =>
  Layer.scoped(FleetStore.FleetStore, make(options))

/**
 * {@link layer} with its options read from `Config`, e.g.
 * `Config.all({ host: Config.string("REDIS_HOST"), port: Config.integer("REDIS_PORT") })`.
 *
 * @category layers
 * @since 0.2.0
 */
export const layerConfig = (
  options: Config.Config<Options>
): Layer.Layer<FleetStore.FleetStore, ConfigError.ConfigError | InvalidOptions> =>
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

type Arg = string | number

// What the store calls on a client, Redis or Cluster alike: its scripts, as commands defined on it.
interface Scripted {
  erlBudget(key: string, ...args: Array<Arg>): Promise<unknown>
  erlTake(key: string, ...args: Array<Arg>): Promise<unknown>
  erlDelivered(key: string, ...args: Array<Arg>): Promise<unknown>
  erlThrottled(key: string, ...args: Array<Arg>): Promise<unknown>
  erlReserve(key: string, ...args: Array<Arg>): Promise<unknown>
  erlSettle(key: string, ...args: Array<Arg>): Promise<unknown>
  erlObserve(key: string, ...args: Array<Arg>): Promise<unknown>
}

const asks = { FirstAttempt: 0, Retry: 1, Peek: 2 } as const

// The layout of the hashes the scripts read, in every key's name: a version that reads a field differently
// uses other keys, so two versions sharing a prefix never misread each other's.
const keyVersion = "v2"

const finite = (text: string | undefined): number => {
  const x = Number(text)
  if (!Number.isFinite(x)) throw new Error(`a reply that is not a finite number: ${String(text).slice(0, 40)}`)
  return x
}

const decodeControl = (reply: ReadonlyArray<string>): FleetStore.Control => {
  const [mode, growth, wmax, lastCut, recovery, holdUntil, delivered, sent] = reply
  return {
    mode: mode === "c" ? "cubic" : "slow-start",
    growth: finite(growth),
    wmax: finite(wmax),
    lastCut: finite(lastCut),
    recovery: finite(recovery),
    holdUntil: finite(holdUntil),
    delivered: finite(delivered),
    sent: finite(sent)
  }
}

// The same steps as FleetStore's in-memory store, field for field. Numbers go both ways as "%.17g" strings:
// Redis turns a Lua number into an integer reply, and Lua's own conversion keeps 14 digits (a reply rounded
// there, then to 12 digits by a reader, could differ from the memory store's in the last digit).
//
// Healing: every field is checked as it is read (`num`, `mode`) against what this library writes: a finite
// number in the field's range, a time at most a day ahead, a mode it knows, a balance no higher than its limit.
// A value it did not write (non-numeric, `inf`, `1e300`, a balance of `-1e300`, a hash of another shape, a key
// of another type) stops the operation; `run` deletes the key and runs the operation again from a clean state
// (what it wrote before the stop goes with the key), and the reply's first element says "reset" (the caller
// warns, naming the key). Checking only what is read costs nothing on a field the operation ignores (a ring
// bucket outside the window, which is overwritten before it is read again).
const helpers = `
local reset = false
local corrupt = {}
local big = 1e15
local function f(x) return string.format("%.17g", x) end
local function num(v, d, lo, hi)
  if not v then return d end
  local x = tonumber(v)
  if not x or x ~= x or x < lo or x > hi then error(corrupt) end
  return x
end
local function mode(v)
  if v and v ~= "s" and v ~= "c" then error(corrupt) end
  return v or "s"
end
local function later(now) return now + 86400000 end
local function run(body)
  local ok, out = pcall(body)
  if not ok then
    local said = type(out) == "table" and out.err or out
    local wrongType = type(said) == "string" and string.find(said, "WRONGTYPE", 1, true)
    if out ~= corrupt and not wrongType then error(out) end
    redis.call("DEL", KEYS[1])
    reset = true
    out = body()
  end
  table.insert(out, 1, reset and "reset" or "")
  return out
end
local function ringAdd(key, now, bms, n, da, db)
  local epoch = math.floor(now / bms)
  local i = epoch % n
  local v = redis.call("HMGET", key, "e" .. i, "a" .. i, "b" .. i)
  if num(v[1], nil, -big, big) ~= epoch then
    redis.call("HSET", key, "e" .. i, epoch, "a" .. i, f(da), "b" .. i, f(db))
  elseif da ~= 0 or db ~= 0 then
    redis.call("HSET", key, "a" .. i, f(num(v[2], 0, 0, big) + da), "b" .. i, f(num(v[3], 0, 0, big) + db))
  end
end
local function ringSums(key, now, bms, n)
  local epoch = math.floor(now / bms)
  local fields = {}
  for i = 0, n - 1 do
    fields[#fields + 1] = "e" .. i
    fields[#fields + 1] = "a" .. i
    fields[#fields + 1] = "b" .. i
  end
  local v = redis.call("HMGET", key, unpack(fields))
  local a, b = 0, 0
  for i = 0, n - 1 do
    local e = num(v[3 * i + 1], nil, -big, big)
    if e and e > epoch - n and e <= epoch then
      a = a + num(v[3 * i + 2], 0, 0, big)
      b = b + num(v[3 * i + 3], 0, 0, big)
    end
  end
  return a, b
end
local function limiterState(key, now, burst)
  local s = redis.call("HMGET", key, "tokens", "at", "mode", "growth", "wmax", "lastCut", "recovery", "holdUntil")
  return { tokens = num(s[1], burst, -1, big), at = num(s[2], now, -1, later(now)), mode = mode(s[3]),
    growth = num(s[4], 0, 0, big), wmax = num(s[5], 0, 0, big), lastCut = num(s[6], -1, -1, later(now)),
    recovery = num(s[7], 0, 0, big), holdUntil = num(s[8], 0, -1, later(now)) }
end
local function refill(s, now, rate, burst)
  if now > s.at then
    s.tokens = math.min(burst, s.tokens + (now - s.at) * rate / 1000)
    s.at = now
  end
end
local function control(key, s, now, bms, n)
  local a, b = ringSums(key, now, bms, n)
  return { s.mode, f(s.growth), f(s.wmax), f(s.lastCut), f(s.recovery), f(s.holdUntil), f(a / (n * bms / 1000)),
    f(b / (n * bms / 1000)) }
end
local dims = { "requests", "tokens", "inputTokens", "outputTokens" }
local function quotaLoad(key, now)
  local fields = { "at" }
  for _, d in ipairs(dims) do
    fields[#fields + 1] = "l:" .. d
    fields[#fields + 1] = "v:" .. d
    fields[#fields + 1] = "c:" .. d
  end
  local v = redis.call("HMGET", key, unpack(fields))
  local q = { at = num(v[1], now, -1, later(now)), l = {}, v = {}, c = {} }
  for i, d in ipairs(dims) do
    q.l[d] = num(v[3 * i - 1], nil, 1e-9, big)
    q.v[d] = num(v[3 * i], nil, -big, big)
    q.c[d] = num(v[3 * i + 1], 0, 0, big)
    -- What is left of a limit comes with it, and is never above it.
    if (q.l[d] == nil) ~= (q.v[d] == nil) or (q.l[d] and q.v[d] > q.l[d]) then error(corrupt) end
    if q.l[d] and now > q.at then q.v[d] = math.min(q.l[d], q.v[d] + (now - q.at) * q.l[d] / 60000) end
  end
  if now > q.at then q.at = now end
  return q
end
local function quotaSave(key, q, ttl)
  local fields = { "at", f(q.at) }
  for _, d in ipairs(dims) do
    if q.l[d] then
      fields[#fields + 1] = "l:" .. d
      fields[#fields + 1] = f(q.l[d])
      fields[#fields + 1] = "v:" .. d
      fields[#fields + 1] = f(q.v[d])
      fields[#fields + 1] = "c:" .. d
      fields[#fields + 1] = f(q.c[d])
    end
  end
  redis.call("HSET", key, unpack(fields))
  redis.call("PEXPIRE", key, ttl)
end
local function save(key, s, ttl)
  redis.call("HSET", key, "tokens", f(s.tokens), "at", f(s.at), "mode", s.mode, "growth", f(s.growth),
    "wmax", f(s.wmax), "lastCut", f(s.lastCut), "recovery", f(s.recovery), "holdUntil", f(s.holdUntil))
  redis.call("PEXPIRE", key, ttl)
end
`

// Each operation's body runs through `run` (see above): it returns its reply without the leading flag.
const scripts = {
  erlBudget: `
local key = KEYS[1]
local now, bms, n = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local ask, count, ratio, minimum = ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local ttl = tonumber(ARGV[8])
return run(function()
  if ask == "0" then ringAdd(key, now, bms, n, count, 0) end
  local a, b = ringSums(key, now, bms, n)
  local granted = 0
  if ask == "1" then
    granted = math.max(0, math.min(count, math.floor(ratio * a + minimum + 1e-9 - b)))
    if granted > 0 then ringAdd(key, now, bms, n, 0, granted) end
  end
  if ask ~= "2" then redis.call("PEXPIRE", key, ttl) end
  return { f(granted), f(a), f(b + granted) }
end)
`,
  erlTake: `
local key = KEYS[1]
local now, bms, n = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local rate, burst, ttl, count = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
return run(function()
  local s = limiterState(key, now, burst)
  refill(s, now, rate, burst)
  local wait = s.at - now + math.max(0, 1 - s.tokens) * 1000 / rate
  local taken = 0
  if wait <= 0.001 then
    taken = math.max(1, math.min(count >= 1 and math.floor(count) or 1, math.floor(s.tokens + 1e-9)))
    s.tokens = s.tokens - taken
    wait = 0
    ringAdd(key, now, bms, n, 0, taken)
  end
  save(key, s, ttl)
  local out = control(key, s, now, bms, n)
  table.insert(out, 1, f(taken))
  table.insert(out, 1, f(wait))
  return out
end)
`,
  erlDelivered: `
local key = KEYS[1]
local now, bms, n = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local count, growth, restartAbove = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local restartGrowth, ttl = tonumber(ARGV[7]), tonumber(ARGV[8])
return run(function()
  local s = redis.call("HMGET", key, "mode", "growth", "wmax")
  if not s[1] then return {} end
  local m, grown, wmax = mode(s[1]), num(s[2], 0, 0, big), num(s[3], 0, 0, big)
  ringAdd(key, now, bms, n, count, 0)
  if m ~= "c" then
    redis.call("HSET", key, "growth", f(grown + growth))
  elseif ringSums(key, now, bms, n) / (n * bms / 1000) > restartAbove * wmax then
    redis.call("HSET", key, "mode", "s", "growth", f(restartGrowth))
  end
  redis.call("PEXPIRE", key, ttl)
  return {}
end)
`,
  erlThrottled: `
local key = KEYS[1]
local now, bms, n = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local sentAt, rate, burst = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local minRate, recovery, holdUntil, ttl = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
local beta = tonumber(ARGV[11])
return run(function()
  local s = limiterState(key, now, burst)
  refill(s, now, rate, burst)
  if sentAt > s.lastCut then
    s.tokens = math.min(s.tokens, 0)
    local a, b = ringSums(key, now, bms, n)
    s.mode = "c"
    local base = a
    if a <= 0 then base = beta * b end
    s.wmax = math.max(minRate, math.min(rate, base / (n * bms / 1000)))
    s.lastCut = now
    s.recovery = recovery
    if holdUntil > s.at then s.at = holdUntil end
    s.holdUntil = math.max(s.holdUntil, holdUntil)
  end
  save(key, s, ttl)
  return control(key, s, now, bms, n)
end)
`,
  erlReserve: `
local key = KEYS[1]
local now, ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
return run(function()
  local q = quotaLoad(key, now)
  local wait = 0
  for i, d in ipairs(dims) do
    local amount = tonumber(ARGV[2 + i])
    if q.l[d] and amount and amount > 0 then
      local need = math.min(amount, q.l[d]) - q.v[d]
      if need > 0 then wait = math.max(wait, need * 60000 / q.l[d]) end
    end
  end
  local out = { f(wait) }
  if wait > 0.001 then
    for i = 1, 3 * #dims do out[#out + 1] = "" end
    quotaSave(key, q, ttl)
    return out
  end
  out[1] = "0"
  for i, d in ipairs(dims) do
    local amount = tonumber(ARGV[2 + i])
    if q.l[d] and amount and amount > 0 then
      q.v[d] = q.v[d] - amount
      q.c[d] = q.c[d] + amount
      out[#out + 1] = f(amount)
      out[#out + 1] = f(q.v[d])
      out[#out + 1] = f(q.c[d])
    else
      out[#out + 1] = ""
      out[#out + 1] = ""
      out[#out + 1] = ""
    end
  end
  quotaSave(key, q, ttl)
  return out
end)
`,
  erlSettle: `
local key = KEYS[1]
local now, ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
return run(function()
  local q = quotaLoad(key, now)
  for i, d in ipairs(dims) do
    local amount = tonumber(ARGV[2 + i])
    if q.l[d] and amount then q.v[d] = math.min(q.l[d], q.v[d] + amount) end
  end
  quotaSave(key, q, ttl)
  return {}
end)
`,
  erlObserve: `
local key = KEYS[1]
local now, ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
return run(function()
  local q = quotaLoad(key, now)
  for i, d in ipairs(dims) do
    local limit, remaining = tonumber(ARGV[4 * i - 1]), tonumber(ARGV[4 * i])
    local expected, counted = tonumber(ARGV[4 * i + 1]), tonumber(ARGV[4 * i + 2])
    if limit then
      if q.l[d] then
        local shortfall = 0
        local since = 0
        if counted then since = math.max(0, q.c[d] - counted) end
        if remaining and expected then shortfall = math.min(0, remaining - expected + since) end
        q.v[d] = math.min(limit, q.v[d] + shortfall)
        q.c[d] = q.c[d] - shortfall
      else
        q.v[d] = math.min(limit, remaining or limit)
      end
      q.l[d] = limit
    end
  end
  quotaSave(key, q, ttl)
  return {}
end)
`
} as const
