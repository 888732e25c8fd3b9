import { describe, expect, it } from "@effect/vitest"
import { ModelError } from "effect-retry-layer"
import { TokenLimitedModel } from "effect-retry-layer/testing"
import * as Effect from "effect/Effect"

const request = { messages: [{ role: "user" as const, content: "Hi" }], maxTokens: 100 }

describe("TokenLimitedModel", () => {
  it.effect("answers a share of admitted requests with a 503 that carries the headers; each counts as a request", () =>
    Effect.gen(function*() {
      const [model, stats] = yield* TokenLimitedModel.make({
        limits: { requests: 1_000, outputTokens: 1_000_000 },
        failureRate: 0.3
      })
      const results = yield* Effect.all(Array.from({ length: 1_000 }, () => Effect.either(model.chatStream(request))))
      const { accepted, failed, refused } = yield* stats
      expect(refused).toBe(0)
      expect(accepted + failed).toBe(1_000)
      expect(failed).toBeGreaterThan(250)
      expect(failed).toBeLessThan(350)
      const failures = results.flatMap((r) => r._tag === "Left" ? [r.left] : [])
      expect(failures.every((e) => e instanceof ModelError.ServerError && e.status === 503)).toBe(true)
      expect(failures[0]!.rateLimit?.requests?.limit).toBe(1_000)
      // the 1,000 requests, failed or not, used the minute's limit up: the next is refused
      expect((yield* Effect.either(model.chatStream(request)))._tag).toBe("Left")
      expect((yield* stats).refused).toBe(1)
    }))

  it.effect("without failureRate every admitted request is answered", () =>
    Effect.gen(function*() {
      const [model, stats] = yield* TokenLimitedModel.make({ limits: { requests: 10 } })
      yield* Effect.all(Array.from({ length: 10 }, () => model.chatStream(request)))
      expect(yield* stats).toEqual({ accepted: 10, refused: 0, failed: 0 })
    }))
})
