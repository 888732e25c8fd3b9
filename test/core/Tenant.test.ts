/**
 * Tenants' shares of one key, in virtual time: in one process's line, and across processes through one store.
 * Shared by both Effect lines.
 */
import { describe, expect, it } from "@effect/vitest"
import { AdaptiveRateLimiter, FleetStore, Priority, Tenant } from "effect-retry-layer"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { TestClock } from "../support/line.js"
import { paced, type Send } from "./support/paced.js"

/** `n` calls for `tenant` through `limiter`, each recording its send; forked in the scope. */
const queue = (
  limiter: AdaptiveRateLimiter.AdaptiveRateLimiter,
  sends: Array<Send>,
  tenant: Tenant.Tenant,
  n: number,
  priority: Priority.Priority = "default"
) => {
  const send = limiter.apply(
    Effect.flatMap(Clock.currentTimeMillis, (at) => Effect.sync(() => sends.push({ label: tenant.key, at })))
  )
  return Effect.forkScoped(Effect.forEach(
    Array.from({ length: n }),
    () => send.pipe(Tenant.withTenant(tenant), Priority.withPriority(priority)),
    { concurrency: "unbounded", discard: true }
  ))
}

const shares = (sends: ReadonlyArray<Send>, from: number, to: number) => {
  const within = sends.filter((s) => s.at >= from && s.at < to)
  const counts: Record<string, number> = {}
  for (const s of within) counts[s.label] = (counts[s.label] ?? 0) + 1
  return { total: within.length, counts }
}

const a = { key: "a", weight: 1 }
const b = { key: "b", weight: 1 }
const c = { key: "c", weight: 2 }

describe("Tenant", () => {
  it.effect("three tenants with more work than the key takes get its sends in proportion to their weights", () =>
    Effect.gen(function*() {
      const limiter = yield* AdaptiveRateLimiter.make(paced)
      const sends: Array<Send> = []
      // a arrives first with the most work: arrival order alone would give it everything
      yield* queue(limiter, sends, a, 400)
      yield* queue(limiter, sends, b, 400)
      yield* queue(limiter, sends, c, 400)
      yield* TestClock.adjust("20 seconds")
      const { counts, total } = shares(sends, 0, 20_000)
      expect(total).toBeGreaterThanOrEqual(199)
      // 1 : 1 : 2, each within two sends
      expect(Math.abs(counts.a! - total / 4)).toBeLessThanOrEqual(2)
      expect(Math.abs(counts.b! - total / 4)).toBeLessThanOrEqual(2)
      expect(Math.abs(counts.c! - total / 2)).toBeLessThanOrEqual(2)
    }).pipe(Effect.provide(FleetStore.layerMemory), Effect.scoped))

  it.effect("a tenant with nothing waiting leaves its share to the others, and comes back to its share, not more", () =>
    Effect.gen(function*() {
      const limiter = yield* AdaptiveRateLimiter.make(paced)
      const sends: Array<Send> = []
      yield* queue(limiter, sends, a, 400)
      yield* queue(limiter, sends, b, 20)
      yield* TestClock.adjust("10 seconds")
      // b's 20 went in the first 4 s (every other send, a's first); a had the rest, and all of them once b was done
      expect(shares(sends, 0, 4_100).counts.b).toBe(20)
      expect(shares(sends, 5_000, 10_000).counts).toEqual({ a: 50 })
      // b comes back with 200: it gets half from then on, with no catching up for its time away
      yield* queue(limiter, sends, b, 200)
      yield* TestClock.adjust("10 seconds")
      const back = shares(sends, 10_000, 20_000)
      expect(Math.abs(back.counts.b! - back.total / 2)).toBeLessThanOrEqual(2)
    }).pipe(Effect.provide(FleetStore.layerMemory), Effect.scoped))

  it.effect("priorities come first: an interactive call of any tenant goes before the tenants' default work", () =>
    Effect.gen(function*() {
      const limiter = yield* AdaptiveRateLimiter.make(paced)
      const sends: Array<Send> = []
      yield* queue(limiter, sends, a, 100)
      yield* queue(limiter, sends, c, 100)
      yield* TestClock.adjust("2 seconds")
      const before = sends.length
      yield* queue(limiter, sends, b, 1, "interactive")
      yield* TestClock.adjust("1 second")
      expect(sends.findIndex((s) => s.label === "b")).toBeLessThanOrEqual(before + 1)
    }).pipe(Effect.provide(FleetStore.layerMemory), Effect.scoped))

  it.effect("fleet-wide: tenants in different processes share the key by weight, through the store", () =>
    Effect.gen(function*() {
      const store = FleetStore.makeMemory()
      const make = AdaptiveRateLimiter.make(paced).pipe(Effect.provideService(FleetStore.FleetStore, store))
      const sends: Array<Send> = []
      // each process serves one tenant: only the store can share the key between them
      yield* queue(yield* make, sends, a, 400)
      yield* queue(yield* make, sends, c, 400)
      yield* TestClock.adjust("30 seconds")
      const { counts, total } = shares(sends, 0, 30_000)
      expect(total).toBeGreaterThanOrEqual(280)
      // 1 : 2, within 5% of each one's share
      expect(Math.abs(counts.a! - total / 3)).toBeLessThanOrEqual(0.05 * total / 3)
      expect(Math.abs(counts.c! - (2 * total) / 3)).toBeLessThanOrEqual(0.05 * (2 * total) / 3)
    }).pipe(Effect.scoped))

  it.effect(
    "fleet-wide: a tenant's calls still waiting when its callers stop are all sent, at its share, in every process",
    () =>
      Effect.gen(function*() {
        const store = FleetStore.makeMemory()
        const make = AdaptiveRateLimiter.make(paced).pipe(Effect.provideService(FleetStore.FleetStore, store))
        const sends: Array<Send> = []
        let started = 0
        // three processes, each with 20 callers of each tenant calling again as soon as they are sent; b's stop
        // calling at 10 s, each with a call in line then
        const until: Record<string, number> = { a: 40_000, b: 10_000, c: 40_000 }
        for (let p = 0; p < 3; p++) {
          const limiter = yield* make
          for (const tenant of [a, b, c]) {
            const send = limiter.apply(
              Effect.flatMap(Clock.currentTimeMillis, (at) => Effect.sync(() => sends.push({ label: tenant.key, at })))
            ).pipe(Tenant.withTenant(tenant))
            for (let i = 0; i < 20; i++) {
              yield* Effect.forkScoped(Effect.gen(function*() {
                while ((yield* Clock.currentTimeMillis) < until[tenant.key]!) {
                  if (tenant === b) started++
                  yield* send
                }
              }))
            }
          }
        }
        yield* TestClock.adjust("40 seconds")
        const bs = sends.filter((s) => s.label === "b").map((s) => s.at)
        // every one of b's calls sent, at b's share of 10 a second (a quarter): a process asking the store for its
        // line's first tenant only, which the fleet held back for the others' turns, served none of its others
        // (20 of b's 60 left waiting at 40 s)
        expect(bs).toHaveLength(started)
        const waiting = bs.filter((at) => at >= 10_000).length
        expect(waiting).toBe(60)
        expect(Math.max(...bs)).toBeLessThanOrEqual(10_000 + (waiting / 2.5) * 1000 + 1_000)
      }).pipe(Effect.scoped),
    60_000
  )

  it.effect("fleet-wide, with priorities: one tenant's interactive work and another's batch keep the key busy", () =>
    Effect.gen(function*() {
      const store = FleetStore.makeMemory()
      const make = AdaptiveRateLimiter.make(paced).pipe(Effect.provideService(FleetStore.FleetStore, store))
      const sends: Array<Send> = []
      // each tenant's share is counted within its class only: a tenant held back for one of another class that
      // the classes' order holds back in turn would stall both
      yield* queue(yield* make, sends, b, 400, "batch")
      yield* queue(yield* make, sends, a, 400, "interactive")
      yield* TestClock.adjust("30 seconds")
      const { counts, total } = shares(sends, 0, 30_000)
      expect(total).toBeGreaterThanOrEqual(290)
      // the batch tenant keeps its one send in ten
      expect(counts.b! / total).toBeGreaterThanOrEqual(0.09)
      expect(counts.b! / total).toBeLessThanOrEqual(0.12)
    }).pipe(Effect.scoped))

  it.effect("an invalid tenant is a defect naming the field, when the call runs", () =>
    Effect.gen(function*() {
      const long = yield* Effect.exit(Tenant.withTenant(Effect.void, "x".repeat(65)))
      expect(Exit.isFailure(long) && String(long.cause)).toMatch(/key: expected a string of 1 to 64 characters/)
      const weight = yield* Effect.exit(Tenant.withTenant(Effect.void, { key: "a", weight: 0 }))
      expect(Exit.isFailure(weight) && String(weight.cause)).toMatch(/weight: expected a number from 0.01 to 100/)
      expect(yield* Tenant.get.pipe(Tenant.withTenant("acme"))).toEqual({ key: "acme", weight: 1 })
    }))
})
