import * as RateLimiter from "@effect/experimental/RateLimiter"
import { describe, expect, it } from "@effect/vitest"
import type { CompletionModel } from "effect-retry-layer"
import { AdaptiveRateLimiter, RetryingModel } from "effect-retry-layer"
import { ScriptedModel, ThrottledModel } from "effect-retry-layer/testing"
import * as Clock from "effect/Clock"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as TestClock from "effect/TestClock"

const request: CompletionModel.ChatRequest = { messages: [{ role: "user", content: "Hi" }] }

/** `n` callers at once; the time each finished, in virtual time. */
const callers = (model: CompletionModel.Service, n: number, horizon: Duration.DurationInput = "2 minutes") =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(Effect.forEach(
      Array.from({ length: n }),
      () => Effect.zipRight(Effect.exit(model.chatStream(request)), Clock.currentTimeMillis),
      { concurrency: "unbounded" }
    ))
    yield* TestClock.adjust(horizon)
    return yield* Fiber.join(fiber)
  })

const quiet = Logger.withMinimumLogLevel(LogLevel.None)
const memoryStore = Effect.provide(RateLimiter.layerStoreMemory)

describe("AdaptiveRateLimiter", () => {
  describe("converges: 1,000 calls against 50/s finish within 1.2x of 20 s with at most 1.5x calls", () => {
    const cases = [
      ["answers at once, limiter off until throttled", { capacity: 50 }, {}],
      ["answers after 200 ms, limiter in slow start from 10/s", { capacity: 50, latency: "200 millis" }, {
        initialRate: 10
      }]
    ] as const

    it.scoped.each(cases)("%s", ([, server, limiter]) =>
      Effect.gen(function*() {
        const [throttled, stats] = yield* ThrottledModel.make(server)
        const { model } = yield* AdaptiveRateLimiter.make(throttled, limiter)
        const retrying = RetryingModel.make(model, { maxAttempts: 30, baseDelay: "200 millis", maxDelay: "2 seconds" })
        const finished = yield* callers(retrying, 1_000)
        const { accepted, refused } = yield* stats
        const makespan = Math.max(...finished) / 1000
        expect(accepted).toBe(1_000)
        expect(makespan).toBeLessThanOrEqual(1.2 * 20)
        expect((accepted + refused) / 1_000).toBeLessThanOrEqual(1.5)
      }).pipe(memoryStore, quiet), 60_000)

    it.scoped(
      "for comparison: the same retries without the limiter send over 4x the calls",
      () =>
        Effect.gen(function*() {
          const [throttled, stats] = yield* ThrottledModel.make({ capacity: 50 })
          const retrying = RetryingModel.make(throttled, {
            maxAttempts: 30,
            baseDelay: "200 millis",
            maxDelay: "2 seconds"
          })
          yield* callers(retrying, 300)
          const { accepted, refused } = yield* stats
          expect(accepted).toBe(300)
          expect((accepted + refused) / 300).toBeGreaterThan(4)
        }).pipe(quiet),
      60_000
    )
  })

  it.scoped("is off, and delays nothing, until the first throttle", () =>
    Effect.gen(function*() {
      const [throttled] = yield* ThrottledModel.make({ capacity: 100 })
      const limited = yield* AdaptiveRateLimiter.make(throttled)
      const finished = yield* callers(limited.model, 100, "0 millis")
      expect(finished.every((t) => t === 0)).toBe(true)
      expect((yield* limited.state).mode).toBe("off")
    }).pipe(memoryStore))

  it.scoped("the first throttle turns it on at 0.7 x the goodput measured over the last second", () =>
    Effect.gen(function*() {
      const [inner] = yield* ScriptedModel.make([
        ...Array.from({ length: 40 }, () => ScriptedModel.reply("ok")),
        ScriptedModel.rateLimited()
      ])
      const limited = yield* AdaptiveRateLimiter.make(inner)
      // 40 successes at 0, 25, ..., 975 ms, then the throttle at 975 ms: 40 in the last second
      for (let i = 0; i < 40; i++) {
        if (i > 0) yield* TestClock.adjust("25 millis")
        yield* Effect.exit(limited.model.chatStream(request))
      }
      yield* Effect.exit(limited.model.chatStream(request))
      const state = yield* limited.state
      expect(state.mode).toBe("cubic")
      expect(state.lastMaxRate).toBe(40)
      expect(state.rate).toBeCloseTo(28, 10)
    }).pipe(memoryStore))

  it.scoped("paces sends at the rate, and a caller who gives up frees its place", () =>
    Effect.gen(function*() {
      const [inner, recorder] = yield* ScriptedModel.make(Array.from({ length: 5 }, () => ScriptedModel.reply("ok")))
      // slow start at 2/s: one send every 500 ms (the first at once)
      const limited = yield* AdaptiveRateLimiter.make(inner, { initialRate: 2, maxRate: 2 })
      const first = yield* Effect.fork(limited.model.chatStream(request))
      const second = yield* Effect.fork(limited.model.chatStream(request))
      const third = yield* Effect.fork(limited.model.chatStream(request))
      yield* TestClock.adjust("100 millis")
      yield* Fiber.interrupt(second)
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(first)
      yield* Fiber.join(third)
      expect((yield* recorder.calls).map((c) => c.at)).toEqual([0, 500])
    }).pipe(memoryStore))

  it.scoped("limiters with the same key on one store draw from one bucket", () =>
    Effect.gen(function*() {
      const [inner, recorder] = yield* ScriptedModel.make(Array.from({ length: 20 }, () => ScriptedModel.reply("ok")))
      const options = { key: "shared", initialRate: 10, maxRate: 10 }
      const a = yield* AdaptiveRateLimiter.make(inner, options)
      const b = yield* AdaptiveRateLimiter.make(inner, options)
      const fiber = yield* Effect.fork(Effect.all(
        [
          ...Array.from({ length: 10 }, () => a.model.chatStream(request)),
          ...Array.from({ length: 10 }, () => b.model.chatStream(request))
        ],
        { concurrency: "unbounded" }
      ))
      yield* TestClock.adjust("5 seconds")
      yield* Fiber.join(fiber)
      // 20 sends at 10/s in all, not 10/s each
      const times = (yield* recorder.calls).map((c) => c.at)
      expect(Math.max(...times)).toBeGreaterThanOrEqual(1800)
    }).pipe(memoryStore))

  describe("the rate", () => {
    const settings = {
      minRate: 0.5,
      maxRate: Infinity,
      beta: 0.7,
      scale: 0.4,
      windowMillis: 1000,
      initialRate: undefined
    }
    const cubic: AdaptiveRateLimiter.State = {
      mode: "cubic",
      rate: 35,
      lastMaxRate: 50,
      lastThrottle: 0,
      k: Math.cbrt((50 * 0.3) / 0.4),
      successes: Array.from({ length: 100 }, (_, i) => 10_000 - i)
    }

    it("grows back along CUBIC to the last throttled rate in K seconds, then probes above it", () => {
      const at = (seconds: number) => AdaptiveRateLimiter.onSuccess(settings, cubic, seconds * 1000).rate
      expect(cubic.k).toBeCloseTo(3.347, 3)
      expect(at(0)).toBeCloseTo(35, 6)
      expect(at(cubic.k)).toBeCloseTo(50, 6)
      expect(at(2)).toBeLessThan(50)
      expect(at(5)).toBeGreaterThan(50)
    })

    it("never exceeds twice the measured goodput, nor falls below minRate", () => {
      const fewSuccesses = { ...cubic, successes: [] }
      expect(AdaptiveRateLimiter.onSuccess(settings, fewSuccesses, 60_000).rate).toBe(2) // 2 x 1 success/s
      const throttledWithNothing = AdaptiveRateLimiter.onThrottle(settings, { ...cubic, successes: [] }, 60_000, 60_000)
      expect(throttledWithNothing.rate).toBe(0.5)
    })

    it("ignores a throttle for a request sent before the last cut", () => {
      expect(AdaptiveRateLimiter.onThrottle(settings, cubic, 500, -1)).toBe(cubic)
      expect(AdaptiveRateLimiter.onThrottle(settings, cubic, 500, 1).lastThrottle).toBe(500)
    })
  })
})
