/**
 * Priority classes, in virtual time: the limiter's line in one process, and the fleet's order through one store
 * shared by two limiters (two processes' worth of dispatchers). Shared by both Effect lines.
 */
import { describe, expect, it } from "@effect/vitest"
import { AdaptiveRateLimiter, FleetStore, Priority } from "effect-retry-layer"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as fc from "fast-check"
import * as PriorityLine from "../../src/core/internal/priorityLine.js"
import { TestClock } from "../support/line.js"
import { paced, type Send } from "./support/paced.js"

/** `n` calls of `label` at `priority` through `limiter`, each recording its send; forked in the scope. */
const queue = (
  limiter: AdaptiveRateLimiter.AdaptiveRateLimiter,
  sends: Array<Send>,
  label: string,
  priority: Priority.Priority | undefined,
  n: number
) => {
  const send = limiter.apply(
    Effect.flatMap(Clock.currentTimeMillis, (at) => Effect.sync(() => sends.push({ label, at })))
  )
  return Effect.forkScoped(Effect.forEach(
    Array.from({ length: n }),
    () => priority === undefined ? send : Priority.withPriority(send, priority),
    { concurrency: "unbounded", discard: true }
  ))
}

/** 1,000 interactive calls through `interactive` and 100 batch calls through `batch`, 30 s later: the sends. */
const underEndlessInteractive = (
  interactive: AdaptiveRateLimiter.AdaptiveRateLimiter,
  batch: AdaptiveRateLimiter.AdaptiveRateLimiter
) =>
  Effect.gen(function*() {
    const sends: Array<Send> = []
    yield* queue(interactive, sends, "interactive", "interactive", 1_000)
    yield* queue(batch, sends, "batch", "batch", 100)
    yield* TestClock.adjust("30 seconds")
    return sends
  })

const count = (sends: ReadonlyArray<Send>, label: string) => sends.filter((s) => s.label === label).length

describe("Priority", () => {
  it.effect("an interactive call behind 1,000 queued batch calls is sent next", () =>
    Effect.gen(function*() {
      const limiter = yield* AdaptiveRateLimiter.make(paced)
      const sends: Array<Send> = []
      yield* queue(limiter, sends, "batch", "batch", 1_000)
      yield* TestClock.adjust("2 seconds")
      const before = sends.length
      yield* queue(limiter, sends, "interactive", "interactive", 1)
      yield* TestClock.adjust("1 second")
      const index = sends.findIndex((s) => s.label === "interactive")
      // the next send slot, or the one after it if the dispatcher already held the next for a batch call
      expect(index).toBeGreaterThanOrEqual(before)
      expect(index).toBeLessThanOrEqual(before + 1)
      expect(sends[index]!.at).toBeLessThanOrEqual(2_000 + 200)
      // the batch took every other slot: nothing idled
      expect(sends.length).toBeGreaterThanOrEqual(29)
    }).pipe(Effect.provide(FleetStore.layerMemory), Effect.scoped))

  it.effect("under endless interactive load, batch calls still get one send in ten, and no more", () =>
    Effect.gen(function*() {
      const limiter = yield* AdaptiveRateLimiter.make(paced)
      const sends = yield* underEndlessInteractive(limiter, limiter)
      expect(sends.length).toBeGreaterThanOrEqual(299)
      const first300 = sends.slice(0, 300)
      expect(count(first300, "batch")).toBeGreaterThanOrEqual(29)
      expect(count(first300, "batch")).toBeLessThanOrEqual(31)
      // never more than ten sends apart while batch work waits
      const gaps = first300.flatMap((s, i) => s.label === "batch" ? [i] : []).map((i, k, all) =>
        k === 0 ? i : i - all[k - 1]!
      )
      expect(Math.max(...gaps)).toBeLessThanOrEqual(Priority.starvationBound)
    }).pipe(Effect.provide(FleetStore.layerMemory), Effect.scoped))

  it.effect("a call's own priority wins over its limiter's, which applies to calls that set none", () =>
    Effect.gen(function*() {
      const limiter = yield* AdaptiveRateLimiter.make({ ...paced, priority: "batch" })
      const sends: Array<Send> = []
      yield* queue(limiter, sends, "layer's", undefined, 50)
      yield* TestClock.adjust("1 second")
      yield* queue(limiter, sends, "default", "default", 5)
      yield* TestClock.adjust("1 second")
      // after the ten sends of the first second, the five default calls go next (the slot held aside)
      const firstDefault = sends.findIndex((s) => s.label === "default")
      expect(firstDefault).toBeLessThanOrEqual(11)
      expect(sends.slice(firstDefault, firstDefault + 6).filter((s) => s.label === "default").length)
        .toBeGreaterThanOrEqual(5)
    }).pipe(Effect.provide(FleetStore.layerMemory), Effect.scoped))

  describe("the fleet's order, in the store (each process asks at the highest priority it has waiting)", () => {
    const window = { bucketMillis: 100, buckets: 10 }
    // 10 tokens a second, one deep
    const ask = (store: FleetStore.Service, now: number, priority: number) =>
      store.take("limiter:k", now, window, 10, 1, 1, { priority })

    it.effect("a lower class is held back while a higher one waits, and goes once the higher one took its turn", () =>
      Effect.gen(function*() {
        const store = FleetStore.makeMemory()
        expect((yield* ask(store, 0, 0)).taken).toBe(1) // the bucket's one token
        const interactive = yield* ask(store, 10, 2) // refused: it waits, fleet-wide
        expect(interactive.taken).toBe(0)
        expect(interactive.wait).toBeCloseTo(90)
        // the token is there at 100 ms; the batch process asks first and is held back
        const batch = yield* ask(store, 100, 0)
        expect(batch.taken).toBe(0)
        expect(batch.wait).toBe(10)
        expect((yield* ask(store, 101, 2)).taken).toBe(1)
        // the interactive caller has its slot: the next token (at 201 ms) goes to whoever asks
        expect((yield* ask(store, 210, 0)).taken).toBe(1)
      }))

    it.effect("while a lower class waits, one send in ten goes to it: the waiting class is held back for it", () =>
      Effect.gen(function*() {
        const store = FleetStore.makeMemory()
        const order: Array<string> = []
        // each 100 ms a token; the interactive process asks first each time, the batch one 5 ms later
        for (let t = 0; t < 3_000; t += 100) {
          if ((yield* ask(store, t, 2)).taken > 0) order.push("i")
          else yield* ask(store, t + 1, 2) // refused: it is waiting
          if ((yield* ask(store, t + 5, 0)).taken > 0) order.push("b")
        }
        // (a tick is lost now and then: this script's batch asks only 5 ms after each token, when it is held)
        expect(order.length).toBeGreaterThanOrEqual(27)
        // i x 10 (the first before the batch waited), b, i x 9, b, ...: never more than ten interactive in a row
        expect(Math.max(...order.join("").split("b").map((run) => run.length))).toBeLessThanOrEqual(10)
        expect(order.filter((o) => o === "b").length).toBe(Math.floor(order.length / 10))
      }))

    it.effect("a mark whose process is gone expires after its wait and 250 ms", () =>
      Effect.gen(function*() {
        const store = FleetStore.makeMemory()
        expect((yield* ask(store, 0, 0)).taken).toBe(1)
        expect((yield* ask(store, 10, 2)).taken).toBe(0) // marked until 10 + 90 + 250 = 350
        expect((yield* ask(store, 340, 0)).taken).toBe(0)
        expect((yield* ask(store, 351, 0)).taken).toBe(1)
      }))

    it.effect("the provider's quota keeps the same order", () =>
      Effect.gen(function*() {
        const store = FleetStore.makeMemory()
        // 600 requests a minute, all but three spent (200 ms of the refill, two, are kept in hand)
        yield* store.observe("quota:k", 0, { requests: { limit: 600, remaining: 3 } })
        expect((yield* store.reserve("quota:k", 0, { requests: 1 }, { priority: 0 })).wait).toBe(0)
        expect((yield* store.reserve("quota:k", 10, { requests: 1 }, { priority: 2 })).wait).toBeCloseTo(90)
        expect((yield* store.reserve("quota:k", 100, { requests: 1 }, { priority: 0 })).wait).toBe(10)
        expect((yield* store.reserve("quota:k", 101, { requests: 1 }, { priority: 2 })).wait).toBe(0)
      }))
  })

  it.effect("fleet-wide: batch in one process gets one send in ten against endless interactive load in another", () =>
    Effect.gen(function*() {
      const store = FleetStore.makeMemory()
      const make = AdaptiveRateLimiter.make(paced).pipe(Effect.provideService(FleetStore.FleetStore, store))
      const sends = yield* underEndlessInteractive(yield* make, yield* make)
      expect(sends.length).toBeGreaterThanOrEqual(295)
      const first300 = sends.slice(0, 300)
      expect(count(first300, "batch")).toBeGreaterThanOrEqual(27)
      expect(count(first300, "batch")).toBeLessThanOrEqual(33)
    }).pipe(Effect.scoped))

  it.effect("an interactive process that is gone holds the fleet back for at most its last wait and 250 ms", () =>
    Effect.gen(function*() {
      const store = FleetStore.makeMemory()
      const make = AdaptiveRateLimiter.make(paced).pipe(Effect.provideService(FleetStore.FleetStore, store))
      const a = yield* make
      const sends: Array<Send> = []
      yield* queue(a, sends, "batch", "batch", 1_000)
      yield* TestClock.adjust("1 second")
      // a process asks at interactive priority once, is refused, and is never heard of again
      const now = yield* Clock.currentTimeMillis
      const refused = yield* store.take("limiter:k", now, { bucketMillis: 100, buckets: 10 }, 10, 1, 1, { priority: 2 })
      expect(refused.taken).toBe(0)
      const before = sends.length
      yield* TestClock.adjust("1 second")
      // at most 100 ms of wait and 250 ms of grace lost of this second's ten sends
      expect(sends.length - before).toBeGreaterThanOrEqual(6)
    }).pipe(Effect.provide(FleetStore.layerMemory), Effect.scoped))

  it.effect("an invalid priority is a defect naming it, when the call runs; a limiter's, its InvalidOptions", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Priority.withPriority(Effect.void, 10))
      expect(Exit.isFailure(exit) && String(exit.cause)).toMatch(
        /priority: expected "batch", "default", "interactive" or an integer from 0 to 9, got 10/
      )
      const invalid = yield* Effect.flip(AdaptiveRateLimiter.make({ priority: "urgent" as never }))
      expect(invalid._tag).toBe("InvalidOptions")
      expect(invalid.message).toMatch(/priority/)
    }).pipe(Effect.provide(FleetStore.layerMemory), Effect.scoped))

  // (fast-check directly: the two lines' it.prop read their arbitraries differently)
  it("the line: each class in arrival order (its retries first), the highest first, a waiting class served in the bound", () =>
    fc.assert(fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 9 }), fc.boolean(), fc.boolean()), { minLength: 1, maxLength: 300 }),
      (script) => {
        // each step pushes a waiter of a class (a retry or a first attempt), or (false) takes the next
        const line = PriorityLine.make<{ readonly c: number; readonly n: number; readonly retry: boolean }>()
        const kinds = (retry: boolean) => retry ? 1 : 0
        const pushed = Array.from({ length: 10 }, () => [0, 0])
        const served = Array.from({ length: 10 }, () => [0, 0])
        const waiting = (c: number, retry: boolean) => pushed[c]![kinds(retry)]! - served[c]![kinds(retry)]!
        const sinceServed = Array.from({ length: 10 }, () => 0)
        for (const [c, push, retry] of script) {
          if (push) {
            let higher = 0
            for (let k = c + 1; k < 10; k++) higher += waiting(k, true) + waiting(k, false)
            expect(line.ahead(c, retry)).toBe(higher + waiting(c, true) + (retry ? 0 : waiting(c, false)))
            line.push(c, PriorityLine.noTenant, { c, n: pushed[c]![kinds(retry)]!++, retry }, retry)
            continue
          }
          const top = line.top()
          const next = line.take()
          if (next === undefined) {
            expect(top).toBe(-1)
            continue
          }
          // a class's retries before its first attempts, each in arrival order
          if (waiting(next.priority, true) > 0) expect(next.waiter.retry).toBe(true)
          expect(next.waiter.n).toBe(served[next.priority]![kinds(next.waiter.retry)]!++)
          // the highest class, unless a lower one was due
          if (next.priority !== top) {
            expect(sinceServed[next.priority]).toBeGreaterThanOrEqual(Priority.starvationBound - 1)
          }
          for (let k = 0; k < 10; k++) {
            sinceServed[k] = k === next.priority || waiting(k, true) + waiting(k, false) === 0 ? 0 : sinceServed[k]! + 1
            // no class with waiters passed over for more than the bound plus one turn per other class due with it
            expect(sinceServed[k]).toBeLessThanOrEqual(Priority.starvationBound - 1 + 9)
          }
        }
        let left = 0
        for (let k = 0; k < 10; k++) left += waiting(k, true) + waiting(k, false)
        expect(line.size()).toBe(left)
      }
    )))
})
