// The share of the provider's quota each process keeps while the store is away, following the provider's count:
// a fluid model of the key (its bucket refilled per minute, each process spending its share of the refill, a
// reading of the provider's count by every process once a second).
import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as AwayShare from "../../../src/core/internal/awayShare.js"

const limit = 600 // a minute's: 10 a second

/**
 * Runs `steps` seconds; `busy(i, t)` says whether process i has work at second t, `reads(i, t)` whether it reads
 * the provider's count then (an answer came). The shares after each step.
 */
const run = (
  initial: ReadonlyArray<number>,
  steps: number,
  busy: (i: number, t: number) => boolean,
  reads: (i: number, t: number) => boolean = () => true
) => {
  const shares = initial.map((value) => AwayShare.make(value, 0))
  let remaining = 0 // the fleet had been spending all of it
  const seen = () => ({ requests: { limit, remaining: Math.floor(remaining) } })
  shares.forEach((share) => AwayShare.sighted(share, 0, seen()))
  const history: Array<ReadonlyArray<number>> = []
  for (let t = 1; t <= steps; t++) {
    const refill = limit / 60
    const want = shares.map((share, i) => busy(i, t) ? share.value * refill : 0)
    const wanted = want.reduce((a, b) => a + b, 0)
    // what the provider lets through: all of it, or (asked more than it has) each in proportion
    const room = Math.min(limit, remaining + refill)
    const scale = wanted > room ? room / wanted : 1
    remaining = room - wanted * scale
    shares.forEach((share, i) => AwayShare.spend(share, { requests: want[i]! * scale }))
    shares.forEach((share, i) => reads(i, t) && AwayShare.sighted(share, t * 1000, seen()))
    history.push(shares.map((share) => share.value))
  }
  return history
}
const sum = (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0)
const mean = (xs: ReadonlyArray<number>) => sum(xs) / xs.length

describe("AwayShare", () => {
  it("busy processes settle to the provider's whole rate between them, from any shares they started at", () =>
    fc.assert(fc.property(
      // what a fleet's shares add up to when the store goes (each measured on its own): about 1, here 0.5 to 3
      fc.array(fc.double({ min: 0.01, max: 1, noNaN: true }), { minLength: 1, maxLength: 30 }).filter((xs) =>
        sum(xs) >= 0.5 && sum(xs) <= 3
      ),
      (initial) => {
        const history = run(initial, 30, () => true)
        for (const shares of history) for (const share of shares) expect(share).toBeGreaterThanOrEqual(0.01)
        for (const shares of history) for (const share of shares) expect(share).toBeLessThanOrEqual(1)
        // from 20 s on, within 5% of the whole on average. A reading is off by a request either way, a tenth of a
        // second's refill, and every process reads the same count: at such a reading each moves its share by up
        // to ~0.016 the same way, and the sum dips by up to n times that, then regrows (4,000 random fleets: 0.016
        // for one process, 0.13 for eight to twelve; a shrunk case of ten: 0.152)
        expect(Math.abs(mean(history.slice(20).map(sum)) - 1)).toBeLessThan(0.05)
        for (const shares of history.slice(20)) {
          expect(Math.abs(sum(shares) - 1)).toBeLessThan(0.03 + 0.02 * initial.length)
        }
      }
    )))

  it("a process whose peers stopped takes their share back within seconds; they take it back when they return", () =>
    fc.assert(fc.property(
      fc.array(fc.double({ min: 0.05, max: 0.5, noNaN: true }), { minLength: 2, maxLength: 10 }),
      (initial) => {
        // all busy for 10 s, then only the first for 20 s (within 10 s it has nine tenths of the provider's rate,
        // from as little as a twentieth), then all again for 30 s
        const history = run(initial, 60, (i, t) => i === 0 || t <= 10 || t > 30)
        expect(history[19]![0]).toBeGreaterThan(0.9)
        expect(Math.abs(mean(history.slice(50).map(sum)) - 1)).toBeLessThan(0.05)
      }
    )))

  it("a process that reads rarely (a small share answered rarely) moves as fast in time as one that reads often", () =>
    fc.assert(fc.property(
      fc.double({ min: 0.02, max: 0.2, noNaN: true }),
      fc.integer({ min: 2, max: 8 }),
      (small, every) => {
        // three peers at a quarter each stop at 10 s; the small one reads every `every` seconds
        const often = run([small, 0.25, 0.25, 0.25], 30, (i, t) => i === 0 || t <= 10)
        const rarely = run(
          [small, 0.25, 0.25, 0.25],
          30,
          (i, t) => i === 0 || t <= 10,
          (i, t) => i > 0 || t % every === 0
        )
        expect(often[29]![0]).toBeGreaterThan(0.9)
        expect(rarely[29]![0]).toBeGreaterThan(0.9)
      }
    )))

  it("a sighting with no limit above 0 (not one the headers' reader gives) leaves the share as it was", () => {
    const share = AwayShare.make(0.5, 0)
    AwayShare.sighted(share, 0, { requests: { limit, remaining: 0 } })
    for (const hostile of [0, -5, Number.NaN]) {
      expect(AwayShare.sighted(share, 5000, { requests: { limit: hostile, remaining: 0 } })).toBe(0)
      expect(share.value).toBe(0.5)
    }
  })

  it("a process that reads too soon after its last reading keeps measuring from that one", () => {
    const share = AwayShare.make(0.5, 0)
    expect(AwayShare.sighted(share, 0, { requests: { limit, remaining: 0 } })).toBe(0)
    // 500 ms later, 5 more left (nobody spent the refill): too few requests to tell
    expect(AwayShare.sighted(share, 500, { requests: { limit, remaining: 5 } })).toBe(0)
    // 1 s after the first: 10 left, none of the refill spent by anyone: the share grows
    expect(AwayShare.sighted(share, 1000, { requests: { limit, remaining: 10 } })).toBeGreaterThan(0)
    // 1 s later: nothing left, and this process spent nothing: the others took it all, and it gives some back
    expect(AwayShare.sighted(share, 2000, { requests: { limit, remaining: 0 } })).toBeLessThan(0)
  })
})
