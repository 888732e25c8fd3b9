import * as RateLimiter from "@effect/experimental/RateLimiter"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Tokens from "../../src/internal/tokens.js"
import { redisAvailable, redisServer, redisStore, uniquePrefix } from "../support/redis.js"

// The budget rests on these properties of @effect/experimental's RateLimiterStore; an upgrade
// that changes them must fail here, for the in-memory store and for Redis alike.
const properties = (store: Layer.Layer<RateLimiter.RateLimiterStore>) =>
  Effect.gen(function*() {
    const s = yield* RateLimiter.RateLimiterStore
    const key = uniquePrefix("tokens")
    expect(yield* Tokens.balance(s, key, 10)).toBe(10) // starts full
    expect(yield* Tokens.take(s, key, 4, 10)).toBe(6)
    expect(yield* Tokens.take(s, key, 7, 10)).toBe(-1) // refused ...
    expect(yield* Tokens.balance(s, key, 10)).toBe(6) // ... and nothing taken
    expect(yield* Tokens.take(s, key, 0.5, 10)).toBe(5.5) // fractions work
    yield* Tokens.refund(s, key, 2, 10)
    expect(yield* Tokens.balance(s, key, 10)).toBe(7.5)
    yield* Tokens.refund(s, key, 100, 10)
    expect(yield* Tokens.balance(s, key, 10)).toBe(10) // capped
  }).pipe(Effect.provide(store))

describe("event-driven token buckets", () => {
  it.effect("on the in-memory store", () => properties(RateLimiter.layerStoreMemory))

  it.scoped.skipIf(!redisAvailable)(
    "on the Redis store",
    () => Effect.flatMap(redisServer, (server) => properties(redisStore(server, uniquePrefix("tokens"))))
  )
})
