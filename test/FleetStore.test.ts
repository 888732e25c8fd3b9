import { describe, expect, it } from "@effect/vitest"
import { AdaptiveRateLimiter, CompletionModel, FleetStore } from "effect-retry-layer"
import { FleetStoreRedis } from "effect-retry-layer/redis"
import { ThrottledModel, TokenLimitedModel } from "effect-retry-layer/testing"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as fc from "fast-check"
import { dimensions } from "../src/core/internal/tokens.js"
import { redisAvailable, redisServer, uniquePrefix } from "./support/redis.js"

const budgetWindow: FleetStore.Window = { bucketMillis: 1000, buckets: 10 }
const limiterWindow: FleetStore.Window = { bucketMillis: 100, buckets: 10 }
const retry = (count = 1): FleetStore.BudgetAsk => ({ _tag: "Retry", count, ratio: 0.5, minimum: 5 })
const first = (count = 1): FleetStore.BudgetAsk => ({ _tag: "FirstAttempt", count })

type Op =
  | { readonly op: "first" | "retry" | "peek"; readonly dt: number; readonly count: number }
  | {
    readonly op: "take"
    readonly dt: number
    readonly rate: number
    readonly burst: number
    readonly count: number
    readonly priority?: number | null
    readonly tenant?: string | null
    readonly others?: ReadonlyArray<string> | null
  }
  | { readonly op: "delivered"; readonly dt: number; readonly count: number; readonly growth: number }
  | {
    readonly op: "throttled"
    readonly dt: number
    readonly rate: number
    readonly back: number
    readonly hold: number
  }
  | {
    readonly op: "reserve" | "settle"
    readonly dt: number
    readonly amounts: ReadonlyArray<number | null>
    readonly priority?: number | null
    readonly tenant?: string | null
  }
  | {
    readonly op: "observe"
    readonly dt: number
    readonly sightings: ReadonlyArray<readonly [number, number | null, number | null, number | null] | null>
  }

// A caller's priority (none: the default class) and tenant (none, or one of three, weighted), and for a take the
// asker's other tenants, so that the fleet's order is compared too.
const priority = fc.option(fc.integer({ min: 0, max: 3 }))
const tenant = fc.option(fc.constantFrom("a", "b", "c"))
const weightOf = (tenant: string) => tenant === "c" ? 2 : 1
const order = (
  step: {
    readonly priority?: number | null
    readonly tenant?: string | null
    readonly others?: ReadonlyArray<string> | null
  }
): FleetStore.Order => ({
  ...(step.priority == null ? {} : { priority: step.priority }),
  ...(step.tenant == null ? {} : { tenant: step.tenant, weight: weightOf(step.tenant) }),
  ...(step.others == null || step.tenant == null
    ? {}
    : { others: step.others.map((other) => ({ tenant: other, weight: weightOf(other) })) })
})

const ops: fc.Arbitrary<ReadonlyArray<Op>> = fc.array<Op>(
  fc.oneof(
    fc.record({
      op: fc.constantFrom("first" as const, "retry" as const, "peek" as const),
      dt: fc.nat(700),
      count: fc.integer({ min: 1, max: 4 })
    }),
    fc.record({
      op: fc.constant("take" as const),
      dt: fc.nat(60),
      rate: fc.integer({ min: 1, max: 40 }),
      burst: fc.integer({ min: 1, max: 5 }),
      count: fc.integer({ min: 1, max: 6 }),
      priority,
      tenant,
      others: fc.option(fc.subarray(["a", "b", "c", "d"]))
    }),
    fc.record({
      op: fc.constant("delivered" as const),
      dt: fc.nat(60),
      count: fc.integer({ min: 1, max: 4 }),
      growth: fc.integer({ min: 0, max: 10 })
    }),
    fc.record({
      op: fc.constant("throttled" as const),
      dt: fc.nat(60),
      rate: fc.integer({ min: 1, max: 40 }),
      back: fc.nat(2000),
      hold: fc.nat(500)
    }),
    fc.record({
      op: fc.constantFrom("reserve" as const, "settle" as const),
      dt: fc.nat(3000),
      amounts: fc.array(fc.option(fc.integer({ min: -50, max: 400 })), { minLength: 4, maxLength: 4 }),
      priority,
      tenant
    }),
    fc.record({
      op: fc.constant("observe" as const),
      dt: fc.nat(3000),
      sightings: fc.array(
        fc.option(
          fc.tuple(
            fc.integer({ min: 1, max: 1000 }),
            fc.option(fc.integer({ min: 0, max: 1000 })),
            fc.option(fc.integer({ min: -500, max: 1000 })),
            fc.option(fc.integer({ min: 0, max: 3000 }))
          )
        ),
        { minLength: 4, maxLength: 4 }
      )
    })
  ),
  { minLength: 1, maxLength: 60 }
)

const quota = (amounts: ReadonlyArray<number | null>): FleetStore.Quota =>
  Object.fromEntries(dimensions.flatMap((d, i) => amounts[i] == null ? [] : [[d, amounts[i]]]))

/** Plays `sequence` on `store` under `key`; every answer, rounded to what both stores can represent. */
const play = (store: FleetStore.Service, key: string, sequence: ReadonlyArray<Op>) =>
  Effect.gen(function*() {
    const answers: Array<unknown> = []
    let now = 1_700_000_000_000
    const round = (x: number) => Number(x.toPrecision(12))
    const control = (c: FleetStore.Control) =>
      Object.fromEntries(Object.entries(c).map(([k, v]) => [k, typeof v === "number" ? round(v) : v]))
    for (const step of sequence) {
      now += step.dt
      switch (step.op) {
        case "first":
        case "retry":
        case "peek": {
          const ask: FleetStore.BudgetAsk = step.op === "first"
            ? first(step.count)
            : step.op === "peek"
            ? { _tag: "Peek" }
            : retry(step.count)
          answers.push(yield* store.budget(`${key}:b`, now, budgetWindow, ask))
          break
        }
        case "take": {
          const t = yield* store.take(
            `${key}:l`,
            now,
            limiterWindow,
            step.rate,
            step.burst,
            step.count,
            order(step)
          )
          answers.push({ wait: round(t.wait), taken: t.taken, control: control(t.control) })
          break
        }
        case "delivered":
          yield* store.delivered(`${key}:l`, now, limiterWindow, {
            count: step.count,
            growth: step.growth,
            restartAbove: 1.5,
            restartGrowth: 7
          })
          break
        case "throttled":
          answers.push(control(
            yield* store.throttled(`${key}:l`, now, limiterWindow, {
              sentAt: now - step.back,
              rate: step.rate,
              burst: 10,
              beta: 0.7,
              minRate: 0.5,
              recovery: 1000,
              holdUntil: step.hold === 0 ? 0 : now + step.hold
            })
          ))
          break
        case "reserve":
        case "settle": {
          const amounts = quota(step.amounts)
          if (step.op === "settle") {
            yield* store.settle(`${key}:q`, now, amounts)
          } else {
            const r = yield* store.reserve(`${key}:q`, now, amounts, order(step))
            answers.push({ wait: round(r.wait), charged: r.charged, left: r.left, counted: r.counted })
          }
          break
        }
        case "observe":
          yield* store.observe(
            `${key}:q`,
            now,
            Object.fromEntries(
              dimensions.flatMap((d, i) => {
                const s = step.sightings[i]
                return s == null ? [] : [[d, {
                  limit: s[0],
                  ...(s[1] === null ? {} : { remaining: s[1] }),
                  ...(s[2] === null ? {} : { expected: s[2] }),
                  ...(s[3] === null ? {} : { counted: s[3] })
                }]]
              })
            )
          )
      }
    }
    return answers
  })

const lines: Array<string> = []
const request: CompletionModel.ChatRequest = { messages: [{ role: "user", content: "Hi" }] }
const logger = Logger.replace(
  Logger.defaultLogger,
  Logger.make(({ message }) => lines.push(Array.isArray(message) ? message.join(" ") : String(message)))
)

describe("FleetStore", () => {
  describe("the retry budget's window", () => {
    it.effect("grants retries while they stay within ratio x first attempts + minimum, over the window", () =>
      Effect.gen(function*() {
        const store = FleetStore.makeMemory()
        const ask = (now: number, what: FleetStore.BudgetAsk) => store.budget("k", now, budgetWindow, what)
        yield* ask(0, first(10))
        // 0.5 x 10 + 5 = 10 retries, then no more
        expect(yield* ask(500, retry(4))).toEqual({ granted: 4, firstAttempts: 10, retries: 4 })
        expect(yield* ask(500, retry(8))).toEqual({ granted: 6, firstAttempts: 10, retries: 10 })
        expect(yield* ask(500, retry())).toEqual({ granted: 0, firstAttempts: 10, retries: 10 })
        // 10 s later the window has moved past both
        expect(yield* ask(10_500, { _tag: "Peek" })).toEqual({ granted: 0, firstAttempts: 0, retries: 0 })
        expect((yield* ask(10_500, retry())).granted).toBe(1)
      }))
  })

  describe("the send bucket", () => {
    it.effect("gives `burst` tokens at once, then one per 1/rate, and takes nothing while one must wait", () =>
      Effect.gen(function*() {
        const store = FleetStore.makeMemory()
        const take = (now: number) => Effect.map(store.take("k", now, limiterWindow, 10, 3), (t) => t.wait)
        expect([yield* take(0), yield* take(0), yield* take(0)]).toEqual([0, 0, 0])
        expect(yield* take(0)).toBe(100)
        expect(yield* take(50)).toBe(50) // nothing was taken by the refused asks
        expect(yield* take(100)).toBe(0)
        expect(yield* take(100)).toBe(100)
      }))

    it.effect("a take of several takes as many whole tokens as are there, up to its count, or waits for one", () =>
      Effect.gen(function*() {
        const store = FleetStore.makeMemory()
        const take = (now: number, count: number) =>
          Effect.map(store.take("k", now, limiterWindow, 10, 5, count), (t) => [t.taken, t.wait])
        expect(yield* take(0, 3)).toEqual([3, 0])
        expect(yield* take(0, 3)).toEqual([2, 0]) // the two left of the burst, not three
        expect(yield* take(0, 3)).toEqual([0, 100]) // none: nothing taken, the wait for one
        expect(yield* take(250, 9)).toEqual([2, 0]) // 2.5 there: whole tokens only
        expect(yield* take(300, 0)).toEqual([1, 0]) // a count below 1 asks for one
        const { control } = yield* store.take("k", 300, limiterWindow, 10, 5)
        expect(control.sent).toBe(8 / (limiterWindow.buckets * limiterWindow.bucketMillis / 1000)) // every one counted
      }))

    it.effect("a cut happens once per round trip, wipes the burst and holds every send", () =>
      Effect.gen(function*() {
        const store = FleetStore.makeMemory()
        for (let i = 0; i < 20; i++) {
          yield* store.take("k", i * 10, limiterWindow, 100, 5)
          yield* store.delivered("k", i * 10, limiterWindow, {
            count: 1,
            growth: 0,
            restartAbove: 1.5,
            restartGrowth: 0
          })
        }
        const throttle = (now: number, sentAt: number) =>
          store.throttled("k", now, limiterWindow, {
            sentAt,
            rate: 100,
            burst: 5,
            beta: 0.7,
            minRate: 0.5,
            recovery: 1000,
            holdUntil: now + 250
          })
        const cut = yield* throttle(200, 190)
        // 20 delivered in the last second: the cut starts from 20/s
        expect(cut).toMatchObject({ mode: "cubic", wmax: 20, lastCut: 200, holdUntil: 450 })
        // sent before the cut: no second cut, no longer hold
        expect(yield* throttle(300, 150)).toMatchObject({ lastCut: 200, holdUntil: 450 })
        expect((yield* store.take("k", 300, limiterWindow, 100, 5)).wait).toBe(160) // held, then one token
      }))

    it.effect("after a cut, delivering more than restartAbove x the cut rate goes back to slow start", () =>
      Effect.gen(function*() {
        const store = FleetStore.makeMemory()
        const delivery = { count: 1, growth: 5, restartAbove: 1.5, restartGrowth: 42 }
        yield* store.take("k", 0, limiterWindow, 10, 10)
        const cut = yield* store.throttled("k", 0, limiterWindow, {
          sentAt: 0.5,
          rate: 10,
          burst: 10,
          beta: 0.7,
          minRate: 0.5,
          recovery: 1000,
          holdUntil: 0
        })
        // nothing delivered yet: the cut starts from 0.7 x the 1 send of the last second
        expect(cut).toMatchObject({ mode: "cubic", wmax: 0.7 })
        yield* store.delivered("k", 100, limiterWindow, delivery) // 1/s: not yet 1.5 x 0.7
        expect((yield* store.take("k", 100, limiterWindow, 1, 10)).control).toMatchObject({ mode: "cubic", growth: 0 })
        yield* store.delivered("k", 200, limiterWindow, delivery) // 2/s
        expect((yield* store.take("k", 200, limiterWindow, 1, 10)).control).toMatchObject({
          mode: "slow-start",
          growth: 42
        })
      }))
  })

  describe("the provider's budget (from its rate-limit headers)", () => {
    it.effect("unknown dimensions neither limit nor are charged; a sighting sets the bucket, refilled per minute", () =>
      Effect.gen(function*() {
        const store = FleetStore.makeMemory()
        const cost = { requests: 1, inputTokens: 600, outputTokens: 100 }
        expect(yield* store.reserve("q", 0, cost)).toEqual({ wait: 0, charged: {}, left: {}, counted: {} })
        yield* store.observe("q", 0, { requests: { limit: 60, remaining: 59 }, inputTokens: { limit: 1200 } })
        const first = yield* store.reserve("q", 0, cost)
        expect(first.charged).toEqual({ requests: 1, inputTokens: 600 })
        expect(first.left).toEqual({ requests: 58, inputTokens: 600 })
        // 600 left, and 200 ms of the refill (4 tokens) kept in hand: 4 more come in 200 ms
        expect((yield* store.reserve("q", 0, cost)).wait).toBeCloseTo(200)
        expect((yield* store.reserve("q", 200, cost)).left).toEqual({ requests: 57.2, inputTokens: 4 })
        // input tokens exhausted: 600 more come back in 30 s at 1,200 a minute; nothing is charged meanwhile (and
        // the reply says the request limit the fleet was told: a process not told yet learns it here)
        expect(yield* store.reserve("q", 200, cost)).toEqual({
          wait: 30_000,
          charged: {},
          left: {},
          counted: {},
          requestLimit: 60
        })
        expect((yield* store.reserve("q", 30_200, cost)).wait).toBe(0)
      }))

    it.effect("calls sent blind are charged once: the fleet's first sighting counts those the provider had not", () =>
      Effect.gen(function*() {
        const store = FleetStore.makeMemory()
        // 100 requests a minute; 30 sent blind by one process, 20 by another. The first sighting (a call the
        // provider admitted 10th: 90 left) sets the budget, less the 20 of the 30 the provider had not counted
        yield* store.observe("q", 0, { requests: { limit: 100, remaining: 90 } }, { requests: 30 })
        expect((yield* store.reserve("q", 0, { requests: 1 })).left).toEqual({ requests: 69 })
        // the other process's first sighting: the budget exists, its 20 are charged in full
        yield* store.observe("q", 0, { requests: { limit: 100, remaining: 60 } }, { requests: 20 })
        expect((yield* store.reserve("q", 0, { requests: 1 })).left).toEqual({ requests: 48 })
        // counted as charges: a sighting of a call charged before them does not take them again
        expect((yield* store.reserve("q", 0, { requests: 1 })).counted).toEqual({ requests: 3 + 20 + 20 })
      }))

    it.effect("a later count lowers what is left only by a shortfall against the fleet's count of the moment", () =>
      Effect.gen(function*() {
        const store = FleetStore.makeMemory()
        yield* store.observe("q", 0, { outputTokens: { limit: 1000, remaining: 1000 } })
        const first = yield* store.reserve("q", 0, { outputTokens: 800 })
        expect(first).toEqual({
          wait: 0,
          charged: { outputTokens: 800 },
          left: { outputTokens: 200 },
          counted: { outputTokens: 800 }
        })
        yield* store.reserve("q", 0, { outputTokens: 100 })
        // the provider counted the first call as the fleet did (its count lags the second): nothing changes
        yield* store.observe("q", 0, { outputTokens: { limit: 1000, remaining: 200, expected: 200 } })
        // 400 asked, and 200 ms of the refill kept in hand, against the 100 left: 303.3 more, at 1,000 a minute
        expect((yield* store.reserve("q", 0, { outputTokens: 400 })).wait).toBeCloseTo(18_200)
        // the turn used 100 of its 800: 700 come back, up to the limit
        yield* store.settle("q", 0, { outputTokens: 700 })
        expect((yield* store.reserve("q", 0, { outputTokens: 400 })).left).toEqual({ outputTokens: 400 })
        // another client of the same key spent 300 more than the fleet knows: it has 300 less
        yield* store.observe("q", 0, { outputTokens: { limit: 1000, remaining: 100, expected: 400 } })
        expect((yield* store.reserve("q", 0, { outputTokens: 50 })).left).toEqual({ outputTokens: 50 })
        // a count without the fleet's of the same moment does not move a known dimension
        yield* store.observe("q", 0, { outputTokens: { limit: 1000, remaining: 0 } })
        yield* store.settle("q", 0, { outputTokens: 1e9 })
        expect((yield* store.reserve("q", 0, { outputTokens: 1000 })).wait).toBe(0) // capped at the limit
      }))

    it.effect("what the fleet charged after a call may be in the provider's count of it: not a shortfall", () =>
      Effect.gen(function*() {
        const store = FleetStore.makeMemory()
        yield* store.observe("q", 0, { requests: { limit: 100, remaining: 100 } })
        /** The provider's count of the call of `r`: `missing` below what the fleet had left after charging it. */
        const countOf = (r: FleetStore.Reservation, missing: number) =>
          store.observe("q", 0, {
            requests: {
              limit: 100,
              remaining: r.left.requests! - missing,
              expected: r.left.requests,
              counted: r.counted.requests
            }
          })
        const a = yield* store.reserve("q", 0, { requests: 1 })
        yield* store.reserve("q", 0, { requests: 1 })
        yield* store.reserve("q", 0, { requests: 1 })
        // the two later calls reached the provider first: its count of the first says 97, not 99
        yield* countOf(a, 2)
        expect((yield* store.reserve("q", 0, { requests: 1 })).left).toEqual({ requests: 96 })
        // the same count without the fleet's total since: taken for a shortfall of 2
        yield* store.observe("q", 0, { requests: { limit: 100, remaining: 97, expected: 99 } })
        expect((yield* store.reserve("q", 0, { requests: 1 })).left).toEqual({ requests: 93 })
        // beyond what was charged since, a shortfall counts: 5 below, 3 charged since -> 2 less
        const b = yield* store.reserve("q", 0, { requests: 1 })
        yield* store.reserve("q", 0, { requests: 3 })
        yield* countOf(b, 5)
        expect((yield* store.reserve("q", 0, { requests: 1 })).left).toEqual({ requests: 86 })
        // a call charged before that shortfall was taken, counted by the provider after the same spending: it says
        // the same 2 are missing, and they are not taken twice
        const c = yield* store.reserve("q", 0, { requests: 1 })
        const d = yield* store.reserve("q", 0, { requests: 1 })
        yield* countOf(c, 2)
        yield* countOf(d, 2)
        expect((yield* store.reserve("q", 0, { requests: 1 })).left).toEqual({ requests: 81 })
      }))

    it.effect("a cost above the limit goes when the bucket is full, and leaves it in debt", () =>
      Effect.gen(function*() {
        const store = FleetStore.makeMemory()
        yield* store.observe("q", 0, { tokens: { limit: 100, remaining: 50 } })
        expect((yield* store.reserve("q", 0, { tokens: 250 })).wait).toBe(30_000)
        expect(yield* store.reserve("q", 30_000, { tokens: 250 })).toEqual({
          wait: 0,
          charged: { tokens: 250 },
          left: { tokens: -150 },
          counted: { tokens: 250 }
        })
        // the debt of 150, the call's token and 200 ms of the refill in hand (a third of a token)
        expect((yield* store.reserve("q", 30_000, { tokens: 1 })).wait).toBeCloseTo(90_800)
      }))
  })

  describe("resilient: a store that fails or hangs", () => {
    const failing = (mode: { down: "fail" | "hang" | "up" }) => {
      const memory = FleetStore.makeMemory()
      const bad = <A>(ok: Effect.Effect<A>): Effect.Effect<A, FleetStore.FleetStoreError> =>
        mode.down === "up"
          ? ok
          : mode.down === "hang"
          ? Effect.never
          : Effect.fail(new FleetStore.FleetStoreError({ message: "connection refused" }))
      return {
        budget: (...args) => bad(memory.budget(...args)),
        firstAttempts: (...args) => bad(memory.firstAttempts(...args)),
        take: (...args) => bad(memory.take(...args)),
        delivered: (...args) => bad(memory.delivered(...args)),
        throttled: (...args) => bad(memory.throttled(...args)),
        reserve: (...args) => bad(memory.reserve(...args)),
        settle: (...args) => bad(memory.settle(...args)),
        observe: (...args) => bad(memory.observe(...args))
      } satisfies FleetStore.Fallible
    }

    it.scoped(
      "a store that is really down: each process paces at its share of the fleet's last rate, not at the whole of it",
      () =>
        Effect.gen(function*() {
          lines.length = 0
          const mode = { down: "up" as "fail" | "hang" | "up" }
          const primary = failing(mode)
          const [server, stats] = yield* ThrottledModel.make({ capacity: 40, latency: "100 millis" })
          // Two processes on one store: one with 30 callers, one with a single caller (at most 10 calls a second
          // with 100 ms latency): a quarter of the fleet's sends and three quarters
          const processes = yield* Effect.forEach([30, 1], (callers) =>
            Effect.map(
              AdaptiveRateLimiter.make({ key: "shared" }).pipe(
                Effect.provideService(
                  FleetStore.FleetStore,
                  FleetStore.resilient(primary, { label: "test", timeout: "50 millis", coolDown: "2 seconds" })
                )
              ),
              (limiter) => {
                const sent: Array<number> = []
                const counted = CompletionModel.mapAcquisition(server, (acquire) =>
                  Effect.zipRight(
                    Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sync(() => sent.push(now))),
                    acquire
                  ))
                return { limiter, callers, sent, model: CompletionModel.mapAcquisition(counted, limiter.apply) }
              }
            ))
          let stop = false
          const calls = yield* Effect.fork(Effect.all(
            processes.flatMap(({ callers, model }) =>
              Array.from({ length: callers }, () =>
                Effect.gen(function*() {
                  while (!stop) yield* Effect.exit(model.chatStream(request))
                }))
            ),
            { concurrency: "unbounded" }
          ))
          yield* TestClock.adjust("20 seconds") // the fleet finds the server's 40/s
          const before = yield* stats
          const fleetRate = (yield* processes[0]!.limiter.state).rate
          mode.down = "fail"
          yield* TestClock.adjust("500 millis")
          const rates = yield* Effect.forEach(processes, ({ limiter }) => Effect.map(limiter.state, (s) => s.rate))
          // each at its share of the fleet's sends (averaged over about 10 s): together, the rate the fleet had found
          const sends = processes.map(({ sent }) => sent.filter((t) => t > 10_000 && t <= 20_000).length)
          rates.forEach((rate, i) => {
            expect(Math.abs(rate / fleetRate - sends[i]! / (sends[0]! + sends[1]!))).toBeLessThan(0.1)
          })
          expect((rates[0]! + rates[1]!) / fleetRate).toBeGreaterThan(0.85)
          expect((rates[0]! + rates[1]!) / fleetRate).toBeLessThanOrEqual(1.1)
          yield* TestClock.adjust("20 seconds")
          const after = yield* stats
          stop = true
          yield* TestClock.adjust("10 seconds")
          yield* Fiber.join(calls)
          // 20 s of two independent limiters: the server's capacity used, few refusals (each process restarting
          // on its own, as before, got 5.8% refused)
          const accepted = after.accepted - before.accepted
          const refused = after.refused - before.refused
          expect(accepted).toBeGreaterThanOrEqual(0.95 * 40 * 20)
          expect(refused / (accepted + refused)).toBeLessThan(0.04)
          expect(lines.filter((l) => l.includes("paces at this process's share"))).toHaveLength(2)
        }).pipe(Effect.provide(logger))
    )

    it.scoped(
      "a store that is really down: a process whose peers stopped takes back their share of the provider's quota, " +
        "told by its headers",
      () =>
        Effect.gen(function*() {
          const mode = { down: "up" as "fail" | "hang" | "up" }
          const primary = failing(mode)
          // 600 requests a minute (10/s), told in Anthropic's headers; two processes of 5 callers each, either
          // of which alone could send 50 a second
          const [server, stats] = yield* TokenLimitedModel.make({
            limits: { requests: 600 },
            headers: "anthropic",
            latency: "100 millis"
          })
          const processes = yield* Effect.forEach([0, 1], () =>
            Effect.map(
              AdaptiveRateLimiter.make({ key: "shared" }).pipe(
                Effect.provideService(
                  FleetStore.FleetStore,
                  FleetStore.resilient(primary, { label: "test", timeout: "50 millis", coolDown: "2 seconds" })
                )
              ),
              (limiter) => ({ stop: false, model: CompletionModel.mapAcquisition(server, limiter.apply) })
            ))
          const calls = yield* Effect.fork(Effect.all(
            processes.flatMap((p) =>
              Array.from({ length: 5 }, () =>
                Effect.gen(function*() {
                  while (!p.stop) yield* Effect.exit(Effect.flatMap(p.model.chatStream(request), Stream.runDrain))
                }))
            ),
            { concurrency: "unbounded" }
          ))
          yield* TestClock.adjust("10 seconds") // the fleet spends the first minute's 600 and paces at 10/s
          mode.down = "fail"
          const down = yield* stats
          yield* TestClock.adjust("5 seconds")
          // both at about half, together the provider's rate, without a 429 wave
          const both = yield* stats
          expect(both.accepted - down.accepted).toBeGreaterThanOrEqual(0.9 * 10 * 5)
          processes[1]!.stop = true
          yield* TestClock.adjust("5 seconds") // the one left sees the provider's count rise, and takes it
          const alone = yield* stats
          yield* TestClock.adjust("10 seconds")
          const after = yield* stats
          processes[0]!.stop = true
          yield* TestClock.adjust("5 seconds")
          yield* Fiber.join(calls)
          // at its share alone (half), 50 of these 100; at the provider's rate, 100
          expect(after.accepted - alone.accepted).toBeGreaterThanOrEqual(0.9 * 10 * 10)
          expect((after.refused - down.refused) / (after.accepted - down.accepted)).toBeLessThan(0.02)
        }).pipe(Effect.provide(logger))
    )

    it.effect("the quota's share is what the store counted of a process's charges, less as it sat idle", () =>
      Effect.gen(function*() {
        lines.length = 0
        const mode = { down: "up" as "fail" | "hang" | "up" }
        const primary = failing(mode)
        const options = { label: "test", timeout: "50 millis", coolDown: "2 seconds" } as const
        const [a, b, c] = [0, 1, 2].map(() => FleetStore.resilient(primary, options))
        yield* a!.observe("quota:k", 0, { requests: { limit: 60_000, remaining: 60_000 } })
        // 10 s of a, b and c charging a request each in turn every 10 ms; then 5 s of b and c only
        for (let t = 0; t < 15_000; t += 10) {
          const store = t < 10_000 ? [a, b, c][(t / 10) % 3]! : [b, c][(t / 10) % 2]!
          yield* store.reserve("quota:k", t, { requests: 1 })
        }
        mode.down = "fail"
        yield* b!.reserve("quota:k", 15_000, { requests: 1 })
        yield* a!.reserve("quota:k", 15_000, { requests: 1 })
        const counted = lines.map((l) => /quota:k counts (\d+)%/.exec(l)?.[1]).filter((x) => x !== undefined)
        // b: half of the last 5 s, a third before (weighted over about 10 s); a: a third, 5 s ago
        expect(Number(counted[0])).toBeGreaterThanOrEqual(40)
        expect(Number(counted[0])).toBeLessThanOrEqual(50)
        expect(Number(counted[1])).toBeGreaterThanOrEqual(5)
        expect(Number(counted[1])).toBeLessThanOrEqual(20)
      }).pipe(Effect.provide(logger)))

    it.effect("an ask that cannot be interrupted (a batch's leader) is answered locally after the timeout too", () =>
      Effect.gen(function*() {
        const store = FleetStore.resilient(failing({ down: "hang" }), {
          label: "test",
          timeout: "50 millis",
          coolDown: "2 seconds"
        })
        const asked = yield* Effect.fork(Effect.uninterruptible(store.budget("k", 0, budgetWindow, first())))
        yield* TestClock.adjust("50 millis")
        expect((yield* Fiber.join(asked)).firstAttempts).toBe(1)
      }).pipe(Effect.provide(logger)))

    it.effect("answers within its timeout from local state, warns once per outage, and comes back", () =>
      Effect.gen(function*() {
        lines.length = 0
        const mode = { down: "hang" as "fail" | "hang" | "up" }
        const store = FleetStore.resilient(failing(mode), {
          label: "test",
          timeout: "50 millis",
          coolDown: "2 seconds"
        })
        const asked = yield* Effect.fork(store.budget("k", 0, budgetWindow, first()))
        yield* TestClock.adjust("50 millis")
        expect((yield* Fiber.join(asked)).firstAttempts).toBe(1) // from local state, after exactly the timeout
        // within the cool-down every call is answered at once, locally, without a word
        for (let i = 0; i < 100; i++) yield* store.budget("k", 60, budgetWindow, retry())
        expect(lines).toEqual([
          "fleet store test: no answer within 50 ms; using process-local state for 2000 ms at a time until it answers again"
        ])
        // after the cool-down it asks the store again, which is back
        mode.down = "up"
        yield* TestClock.adjust("2 seconds")
        yield* store.budget("k", 2050, budgetWindow, first())
        expect(lines[1]).toBe("fleet store test: reachable again; sharing state across processes")
        expect(lines.length).toBe(2)
      }).pipe(Effect.provide(logger)))
  })

  it.effect.skipIf(!redisAvailable)(
    "memory and Redis give the same answers to the same operations",
    () =>
      Effect.gen(function*() {
        lines.length = 0
        const server = yield* redisServer
        // a store timeout far beyond any loaded machine's lag: this test is about answers, and a fall-back to
        // local state (a timeout) would answer differently
        const redis = yield* FleetStoreRedis.make({
          ...server,
          prefix: `${uniquePrefix("agree")}:`,
          timeout: "5 seconds"
        })
        let run = 0
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(ops, async (sequence) => {
              const key = `seq${run++}`
              const [fromMemory, fromRedis] = await Promise.all([
                Effect.runPromise(play(FleetStore.makeMemory(), key, sequence)),
                Effect.runPromise(play(redis, key, sequence).pipe(Effect.provide(logger)))
              ])
              expect(fromRedis).toEqual(fromMemory)
            }),
            {
              numRuns: 1000,
              examples: [
                // a bucket exactly one window old is out of it
                [[{ op: "first", dt: 0, count: 3 }, { op: "peek", dt: 10_000, count: 1 }]],
                // a fractional allowance (0.5 x 3 + 5 = 6.5) grants 6
                [[{ op: "first", dt: 0, count: 3 }, { op: "retry", dt: 1, count: 4 }, {
                  op: "retry",
                  dt: 1,
                  count: 4
                }]],
                // a provider's budget: seen, spent, refilled, settled, lowered by a later sighting
                [[
                  {
                    op: "observe",
                    dt: 0,
                    sightings: [[60, 2, null, null], null, [1000, null, null, null], [500, 100, null, null]]
                  },
                  { op: "reserve", dt: 0, amounts: [1, null, 300, 200] },
                  { op: "reserve", dt: 1500, amounts: [1, null, 300, 50] },
                  { op: "settle", dt: 10, amounts: [null, 5, 100, 150] },
                  { op: "observe", dt: 10, sightings: [[60, 0, 1, 1], [10, 10, null, null], null, [500, 30, 80, 100]] },
                  { op: "reserve", dt: 10, amounts: [1, 1, 1, 1] }
                ]]
              ]
            }
          )
        )
        expect(lines).toEqual([]) // Redis answered every operation: no fall-back to local state
      }).pipe(Effect.scoped, Effect.provide(logger))
  )
})
