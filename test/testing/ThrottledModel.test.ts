import { describe, expect, it } from "@effect/vitest"
import { ThrottledModel } from "effect-retry-layer/testing"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"

const request = { messages: [] }

describe("ThrottledModel", () => {
  it.effect("admits a burst, then refills at capacity", () =>
    Effect.gen(function*() {
      const [model, stats] = yield* ThrottledModel.make({ capacity: 10, burst: 3 })
      const tries = () => Effect.all(Array.from({ length: 5 }, () => Effect.either(model.chatStream(request))))
      expect((yield* tries()).map((r) => r._tag)).toEqual(["Right", "Right", "Right", "Left", "Left"])
      yield* TestClock.adjust("200 millis") // two tokens back
      expect((yield* tries()).filter((r) => r._tag === "Right")).toHaveLength(2)
      expect(yield* stats).toEqual({ accepted: 5, refused: 5, failed: 0 })
    }))

  it.effect("answers after the latency and says when to return", () =>
    Effect.gen(function*() {
      const [exact] = yield* ThrottledModel.make({ capacity: 4, burst: 1, latency: "200 millis", retryAfter: "exact" })
      const first = yield* Effect.fork(exact.chatStream(request))
      const second = yield* Effect.fork(Effect.flip(exact.chatStream(request)))
      yield* TestClock.adjust("199 millis")
      expect(first.unsafePoll()).toBeNull()
      yield* TestClock.adjust("1 millis")
      yield* Fiber.join(first)
      const refused = yield* Fiber.join(second)
      expect(refused._tag).toBe("RateLimitError")
      expect(refused.retryAfter && Duration.toMillis(refused.retryAfter)).toBe(250) // a token every 250 ms
      const [fixed] = yield* ThrottledModel.make({ capacity: 1, burst: 1, retryAfter: { fixed: "1 second" } })
      yield* fixed.chatStream(request)
      const again = yield* Effect.flip(fixed.chatStream(request))
      expect(again.retryAfter && Duration.toMillis(again.retryAfter)).toBe(1000)
    }))

  it("tokenBucket, the same rule outside Effect: a full burst first, then one token per 1/capacity s", () => {
    const take = ThrottledModel.tokenBucket(10, 2)
    expect([take(1_000), take(1_000)]).toEqual([undefined, undefined])
    expect(take(1_000)).toBeCloseTo(100)
    expect(take(1_050)).toBeCloseTo(50)
    expect(take(1_100)).toBeUndefined()
    expect(take(10_000)).toBeUndefined() // refilled, but never past the burst
    expect(take(10_000)).toBeUndefined()
    expect(take(10_000)).toBeCloseTo(100)
  })

  it.effect("changes capacity on schedule, and answers a share of admitted requests with 503", () =>
    Effect.gen(function*() {
      const at = ThrottledModel.capacityAt({ capacity: 100, changes: [{ at: "20 seconds", capacity: 20 }] })
      expect([at(0), at(19_999), at(20_000)]).toEqual([100, 100, 20])
      const [model, stats] = yield* ThrottledModel.make({ capacity: Infinity, failureRate: 0.3 })
      const results = yield* Effect.all(Array.from({ length: 1_000 }, () => Effect.either(model.chatStream(request))))
      const { accepted, failed, refused } = yield* stats
      expect(refused).toBe(0) // never throttles
      expect(accepted + failed).toBe(1_000)
      expect(failed).toBeGreaterThan(250)
      expect(failed).toBeLessThan(350)
      expect(results.filter((r) => r._tag === "Left").every((r) => r._tag === "Left" && r.left.status === 503)).toBe(
        true
      )
    }))
})
