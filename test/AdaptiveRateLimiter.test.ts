import { describe, expect, it } from "@effect/vitest"
import {
  AdaptiveRateLimiter,
  CompletionModel,
  FleetStore,
  InvalidOptions,
  ModelError,
  RetryingModel
} from "effect-retry-layer"
import { ScriptedModel, ThrottledModel, TokenLimitedModel } from "effect-retry-layer/testing"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { rateAt } from "../src/core/internal/sendRate.js"
import { callers, limited, memory, quiet, request } from "./support/limiter.js"
import { buildFailure, failureOf, thrown } from "./support/thrown.js"
import { recordingCalls } from "./support/virtualTime.js"

const throttle = (retryAfter?: Duration.DurationInput) =>
  new ModelError.RateLimitError({
    provider: "p",
    status: 429,
    message: "slow down",
    ...(retryAfter === undefined ? {} : { retryAfter: Duration.decode(retryAfter) })
  })

describe("AdaptiveRateLimiter", () => {
  it.scoped(
    "with its defaults, 2,000 callers against 50/s (200 ms) finish within 1.1x the floor, 1.1 calls each",
    () =>
      Effect.gen(function*() {
        const [server, stats] = yield* ThrottledModel.make({ capacity: 50, burst: 50, latency: "200 millis" })
        const { model } = yield* limited(server)
        const retrying = RetryingModel.make(model, { maxAttempts: 10, baseDelay: "200 millis", maxDelay: "2 seconds" })
        const finished = yield* callers(retrying, 2_000, "3 minutes")
        const { accepted, refused } = yield* stats
        expect(accepted).toBe(2_000)
        // floor: (2,000 - 50) / 50 + 0.2 = 39.2 s
        expect(Math.max(...finished) / 1000).toBeLessThanOrEqual(1.1 * 39.2)
        expect((accepted + refused) / 2_000).toBeLessThanOrEqual(1.1)
      }).pipe(memory, quiet)
  )

  it.scoped(
    "for comparison: the same retries without the limiter send over 4x the calls",
    () =>
      Effect.gen(function*() {
        const [server, stats] = yield* ThrottledModel.make({ capacity: 50, burst: 50, latency: "200 millis" })
        const retrying = RetryingModel.make(server, { maxAttempts: 30, baseDelay: "200 millis", maxDelay: "2 seconds" })
        yield* callers(retrying, 300)
        const { accepted, refused } = yield* stats
        expect(accepted).toBe(300)
        expect((accepted + refused) / 300).toBeGreaterThan(4)
      }).pipe(quiet)
  )

  it.scoped(
    "starts in slow start, headers or not: `burst` sends at once, then `initialRate`, growing with every response",
    () =>
      Effect.gen(function*() {
        const [inner, recorder] = yield* ScriptedModel.make(
          Array.from({ length: 30 }, () => ScriptedModel.reply("ok"))
        )
        const slow: CompletionModel.Service = {
          ...inner,
          chatStream: (r) => Effect.delay(inner.chatStream(r), "100 millis")
        }
        const { limiter, model } = yield* limited(slow, { burst: 5, initialRate: 10 })
        yield* callers(model, 30, "10 seconds")
        const times = (yield* recorder.calls).map((c) => c.at - 100) // sent 100 ms before the model saw them
        // the burst at once; the next token at 10/s, 100 ms later, when the burst's answers have added 5 x 10/s
        expect(times.slice(0, 6)).toEqual([0, 0, 0, 0, 0, 100])
        expect(times[9]! - times[8]!).toBeLessThan(20) // 60/s and growing
        expect(times[29]!).toBeLessThan(500) // 10/s throughout would have taken until 2.5 s
        expect((yield* limiter.state).mode).toBe("slow-start")
      }).pipe(memory)
  )

  it.scoped("a request limit told by the first answer opens a minute's worth at once: no blind ramp", () =>
    Effect.gen(function*() {
      // 600 requests a minute (a minute's worth at once), 200 ms answers; 400 calls at once: the burst of 100 and
      // slow start's 50/s until the first answer, then the rest at once (at the dispatcher's next ask, within
      // one bucket of the window), each run on a store of its own
      const sent = (options: AdaptiveRateLimiter.Options.Input) =>
        Effect.gen(function*() {
          const [provider, stats] = yield* TokenLimitedModel.make({
            limits: { requests: 600 },
            headers: "anthropic",
            latency: "200 millis"
          })
          const { service, times } = recordingCalls(provider)
          const { model } = yield* limited(service, options).pipe(memory)
          yield* callers(model, 400, "10 seconds")
          return { times: [...times].sort((a, b) => a - b), ...(yield* stats) }
        })
      const told = yield* sent({})
      expect(told.refused).toBe(0)
      expect(told.times.filter((t) => t === 0)).toHaveLength(100)
      expect(told.times.filter((t) => t < 200).length).toBeLessThan(115)
      expect(told.times[399]).toBeLessThanOrEqual(300)
      // the same provider, its headers not read: slow start's ramp, a round trip per doubling (617 ms)
      const blind = yield* sent({ rateLimitHeaders: false })
      expect(blind.times[399]! - blind.times[0]!).toBeGreaterThan(500)
    }).pipe(quiet))

  it.scoped("a process not told yet hears the request limit from the fleet, and charges its calls from then on", () =>
    Effect.gen(function*() {
      // 150 requests a minute: one process is told by its first answers and sends 100; 3 s later (the send bucket
      // full again) another sends 200 at once, with 57 left. Blind, it would send its burst of 100 into the 57;
      // told through the fleet's bucket at its first take, it sends what is left and then 2.5 a second.
      const [provider, stats] = yield* TokenLimitedModel.make({
        limits: { requests: 150 },
        headers: "anthropic",
        latency: "200 millis"
      })
      const a = yield* limited(provider, { key: "shared" })
      const b = yield* limited(provider, { key: "shared" })
      yield* callers(a.model, 100, "3 seconds")
      const finished = yield* callers(b.model, 200, "3 minutes")
      const { accepted, refused } = yield* stats
      expect(refused).toBe(0)
      expect(accepted).toBe(300)
      // the last of 143 more at 2.5 a second: about a minute after b started
      expect(Math.max(...finished)).toBeGreaterThan(58_000)
      expect(Math.max(...finished)).toBeLessThan(65_000)
    }).pipe(memory, quiet))

  it.scoped("a throttle cuts to beta x the delivered rate, once per round trip, and holds sends for the hint", () =>
    Effect.gen(function*() {
      // 40 answers over the first second, then two 429s for requests sent at the same moment; 100 ms latency
      const script = [
        ...Array.from({ length: 40 }, () => ScriptedModel.reply("ok")),
        throttle("1 second"),
        throttle("1 second")
      ]
      const [inner] = yield* ScriptedModel.make(script)
      const slow: CompletionModel.Service = {
        ...inner,
        chatStream: (r) => Effect.delay(inner.chatStream(r), "100 millis")
      }
      const { limiter, model } = yield* limited(slow, { burst: 100, initialRate: 100 })
      for (let i = 0; i < 40; i++) {
        if (i > 0) yield* TestClock.adjust("25 millis")
        yield* Effect.fork(model.chatStream(request))
      }
      yield* Effect.fork(Effect.exit(model.chatStream(request)))
      yield* Effect.fork(Effect.exit(model.chatStream(request)))
      yield* TestClock.adjust("100 millis")
      const state = yield* limiter.state
      expect(state.mode).toBe("cubic")
      expect(state.lastMaxRate).toBe(40) // 40 delivered in the last second; one cut for both 429s
      expect(state.rate).toBeCloseTo(28, 6)
      expect(state.holdUntil).toBe(1075 + 250) // the hint, up to maxHold (250 ms)
    }).pipe(memory, quiet))

  it.scoped("a throttle dates from when the store granted the slot: a request granted before a cut, sent after it, cuts nothing more", () =>
    Effect.gen(function*() {
      // A store 20 ms away: a slot granted at 10 ms reaches its caller at 30 ms, after the cut at 20 ms
      // that the first request's 429 made. Dated by its send, the second 429 cut the rate a second time.
      const memoryStore = FleetStore.makeMemory()
      const cuts = new Set<number>()
      const store: FleetStore.Service = {
        ...memoryStore,
        take: (...args) => Effect.zipLeft(memoryStore.take(...args), Effect.sleep("20 millis")),
        throttled: (...args) => Effect.tap(memoryStore.throttled(...args), (control) => cuts.add(control.lastCut))
      }
      const [inner] = yield* ScriptedModel.make([throttle(), throttle()])
      const limiter = yield* AdaptiveRateLimiter.make({ rateLimitHeaders: false }).pipe(
        Effect.provideService(FleetStore.FleetStore, store)
      )
      const model = CompletionModel.mapAcquisition(inner, limiter.apply)
      yield* Effect.fork(Effect.exit(model.chatStream(request)))
      yield* TestClock.adjust("10 millis")
      yield* Effect.fork(Effect.exit(model.chatStream(request)))
      yield* TestClock.adjust("100 millis")
      expect([...cuts]).toEqual([20])
    }).pipe(quiet))

  it.scoped("a process waiting with many calls takes their slots together: its pace is the rate, not one send per store round trip", () =>
    Effect.gen(function*() {
      // Every store operation takes 20 ms: one slot per round trip would be 50 sends/s, half the rate allowed.
      const memoryStore = FleetStore.makeMemory()
      const far = <A>(op: Effect.Effect<A>) => Effect.zipLeft(op, Effect.sleep("20 millis"))
      const store: FleetStore.Service = {
        ...memoryStore,
        take: (...args) => far(memoryStore.take(...args)),
        delivered: (...args) => far(memoryStore.delivered(...args)),
        throttled: (...args) => far(memoryStore.throttled(...args))
      }
      const [inner] = yield* ScriptedModel.make(Array.from({ length: 100 }, () => ScriptedModel.reply("ok")))
      const { model } = yield* limited(inner, { rateLimitHeaders: false, initialRate: 100, maxRate: 100, burst: 10 })
        .pipe(Effect.provideService(FleetStore.FleetStore, store))
      const times = yield* callers(model, 100, "10 seconds")
      // 10 at once, then 90 at 100/s: 0.9 s, and a round trip or two (1.8 s at one slot per round trip)
      expect(Math.max(...times)).toBeLessThan(1_000)
    }).pipe(quiet))

  it.scoped("calls starting together ask the store for their slots a few times, not once each", () =>
    Effect.gen(function*() {
      // A store 1 ms away: while the first caller's ask is out, the others wait in line and the dispatcher asks
      // for all of them at once (1,000 asks at once are what times a Redis out at start-up).
      const memoryStore = FleetStore.makeMemory()
      let takes = 0
      const store: FleetStore.Service = {
        ...memoryStore,
        take: (...args) =>
          Effect.zipLeft(
            memoryStore.take(...args),
            Effect.sync(() => takes++).pipe(Effect.zipRight(Effect.sleep("1 millis")))
          )
      }
      const [inner] = yield* ScriptedModel.make(Array.from({ length: 1_000 }, () => ScriptedModel.reply("ok")))
      const { model } = yield* limited(inner, { rateLimitHeaders: false, burst: 1_000 })
        .pipe(Effect.provideService(FleetStore.FleetStore, store))
      const times = yield* callers(model, 1_000, "1 second")
      expect(times.filter((t) => t <= 10)).toHaveLength(1_000) // the burst, all at once
      expect(takes).toBeLessThanOrEqual(3)
    }).pipe(quiet))

  it.scoped("once the provider's limits are known, slots are taken one at a time, as each call's charge goes", () =>
    Effect.gen(function*() {
      // Slots taken ahead would be held through each call's wait on the quota, and counted in the process's share
      // of the fleet before they are used (four real processes' shares summed to 136% when the first to ask took
      // the fleet's whole burst).
      const memoryStore = FleetStore.makeMemory()
      const counts: Array<number> = []
      const store: FleetStore.Service = {
        ...memoryStore,
        take: (...args) => {
          counts.push(args[5] ?? 1)
          return Effect.zipLeft(memoryStore.take(...args), Effect.sleep("20 millis"))
        }
      }
      const [provider] = yield* TokenLimitedModel.make({
        limits: { requests: 600 },
        headers: "anthropic",
        latency: "10 millis"
      })
      const { model } = yield* limited(provider).pipe(Effect.provideService(FleetStore.FleetStore, store))
      const first = yield* Effect.fork(Effect.exit(Effect.flatMap(model.chatStream(request), Stream.runDrain)))
      yield* TestClock.adjust("1 second")
      expect(Exit.isSuccess(yield* Fiber.join(first))).toBe(true) // its headers told the limits
      counts.length = 0
      const fiber = yield* Effect.fork(Effect.forEach(
        Array.from({ length: 50 }),
        () => Effect.exit(Effect.flatMap(model.chatStream(request), Stream.runDrain)),
        { concurrency: "unbounded" }
      ))
      yield* TestClock.adjust("1 minute")
      expect((yield* Fiber.join(fiber)).every(Exit.isSuccess)).toBe(true)
      expect(counts.length).toBeGreaterThan(0)
      expect(counts.filter((count) => count !== 1)).toEqual([])
    }).pipe(quiet))

  it.scoped("a long hint stretches the recovery up to a minute, and holds the fleet for at most maxHold", () =>
    Effect.gen(function*() {
      const store = FleetStore.makeMemory()
      const [inner] = yield* ScriptedModel.make([ScriptedModel.reply("ok"), throttle("1 day")])
      const limiter = yield* AdaptiveRateLimiter.make().pipe(Effect.provideService(FleetStore.FleetStore, store))
      const model = CompletionModel.mapAcquisition(inner, limiter.apply)
      yield* Effect.exit(model.chatStream(request))
      yield* TestClock.adjust("10 millis")
      yield* Effect.exit(model.chatStream(request))
      const { control } = yield* store.take("limiter:default", 10, { bucketMillis: 100, buckets: 10 }, 1, 100)
      expect(control).toMatchObject({ mode: "cubic", recovery: 60_000, holdUntil: 10 + 250 })
    }).pipe(quiet))

  it("regrows to the cut rate in `recovery`, or in the server's hint if longer", () => {
    const settings = AdaptiveRateLimiter.options({ recovery: "1 second" })
    const control = (recovery: number): FleetStore.Control => ({
      mode: "cubic",
      growth: 0,
      wmax: 100,
      lastCut: 0,
      recovery,
      holdUntil: 0,
      delivered: 100,
      sent: 100
    })
    const at = (recovery: number, t: number) => rateAt(settings, control(recovery), t)
    expect(at(1000, 0)).toBeCloseTo(70, 6)
    expect(at(1000, 500)).toBeGreaterThan(90)
    expect(at(1000, 1000)).toBeCloseTo(100, 6)
    expect(at(1000, 2000)).toBeGreaterThan(100) // probing above
    expect(at(1000, 5000)).toBe(200) // at most twice the delivered rate
    expect(at(30_000, 1000)).toBeLessThan(90) // a 30 s hint: still recovering after 1 s
    expect(at(30_000, 30_000)).toBeCloseTo(100, 6)
    // above wmax only with evidence: after an idle spell nothing was delivered, and the rate stays at wmax
    expect(rateAt(settings, { ...control(1000), delivered: 0 }, 60_000)).toBe(100)
    expect(rateAt(settings, { ...control(1000), wmax: 0.1 }, 0)).toBe(1) // minRate
  })

  it.scoped("paces sends at the rate, and a caller who gives up frees its place", () =>
    Effect.gen(function*() {
      const [inner, recorder] = yield* ScriptedModel.make(Array.from({ length: 5 }, () => ScriptedModel.reply("ok")))
      const { model } = yield* limited(inner, { burst: 1, initialRate: 2, maxRate: 2 })
      const first = yield* Effect.fork(model.chatStream(request))
      const second = yield* Effect.fork(model.chatStream(request))
      const third = yield* Effect.fork(model.chatStream(request))
      yield* TestClock.adjust("100 millis")
      yield* Fiber.interrupt(second)
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(first)
      yield* Fiber.join(third)
      expect((yield* recorder.calls).map((c) => c.at)).toEqual([0, 500])
    }).pipe(memory))

  it.scoped("limiters with the same key on one store (two processes) send at one rate, not one each", () =>
    Effect.gen(function*() {
      const [inner] = yield* ScriptedModel.make(Array.from({ length: 40 }, () => ScriptedModel.reply("ok")))
      const { service, times } = recordingCalls(inner)
      const options = { key: "shared", burst: 1, initialRate: 10, maxRate: 10 }
      const a = yield* limited(service, options)
      const b = yield* limited(service, options)
      const fiber = yield* Effect.fork(Effect.all(
        [
          ...Array.from({ length: 20 }, () => a.model.chatStream(request)),
          ...Array.from({ length: 20 }, () => b.model.chatStream(request))
        ],
        { concurrency: "unbounded" }
      ))
      yield* TestClock.adjust("10 seconds")
      yield* Fiber.join(fiber)
      // 40 sends at 10/s in all: the last at 3.9 s, not 1.9 s
      expect(Math.max(...times)).toBe(3900)
    }).pipe(memory))

  it.effect("closing its scope completes every caller still waiting (interrupted), and refuses new ones", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const [inner] = yield* ScriptedModel.make(Array.from({ length: 10 }, () => ScriptedModel.reply("ok")))
      const { model } = yield* limited(inner, { burst: 1, initialRate: 1, maxRate: 1 }).pipe(Scope.extend(scope))
      const waiting = yield* Effect.forEach(Array.from({ length: 5 }), () => Effect.fork(model.chatStream(request)))
      yield* TestClock.adjust("10 millis")
      yield* Scope.close(scope, Exit.void)
      const exits = yield* Effect.forEach(waiting, Fiber.await)
      expect(exits.filter(Exit.isSuccess).length).toBe(1) // the first went at once
      expect(exits.filter((e) => Exit.isFailure(e) && Exit.isInterrupted(e)).length).toBe(4)
      expect(Exit.isInterrupted(yield* Effect.exit(model.chatStream(request)))).toBe(true)
    }).pipe(memory))

  it("refuses bad options with an InvalidOptions that names each field", async () => {
    const attempt = (input: unknown) => thrown(AdaptiveRateLimiter.options)(input) as InvalidOptions | undefined
    for (
      const [input, field] of [
        [{ minRate: 0 }, "minRate"],
        [{ beta: 1 }, "beta"],
        [{ burst: 0.5 }, "burst"],
        [{ initialRate: Infinity }, "initialRate"],
        [{ window: 0 }, "window"],
        [{ recovery: "-1 seconds" }, "recovery"],
        [{ initialRate: 1, minRate: 2 }, "initialRate"],
        [{ maxRate: 1 }, "maxRate"],
        [{ intialRate: 5 }, "intialRate"]
      ] as const
    ) {
      const error = attempt(input)
      expect(error).toBeInstanceOf(InvalidOptions)
      expect(error?.message).toContain(field)
    }
    expect(attempt({ key: "ok", initialRate: 1, minRate: 1, maxRate: 3 })).toBeUndefined()
    // the layer and make fail when built, in the error channel
    expect(await buildFailure(AdaptiveRateLimiter.layer({ minRate: -1 }))).toBeInstanceOf(InvalidOptions)
    expect(await failureOf(AdaptiveRateLimiter.make({ minRate: -1 }))).toBeInstanceOf(InvalidOptions)
    expect(await buildFailure(AdaptiveRateLimiter.layer({ minRate: 1 }))).toBeUndefined()
  })

  it.scoped("as a layer, decorates the model in context", () =>
    Effect.gen(function*() {
      const model = yield* CompletionModel.CompletionModel
      expect(Exit.isSuccess(yield* Effect.exit(model.chatStream(request)))).toBe(true)
    }).pipe(
      Effect.provide(
        AdaptiveRateLimiter.layer().pipe(
          Layer.provide(ScriptedModel.layer([ScriptedModel.reply("ok")])),
          Layer.provide(FleetStore.layerMemory)
        )
      )
    ))
})
