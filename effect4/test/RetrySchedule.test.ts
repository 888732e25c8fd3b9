import { assert, describe, it } from "@effect/vitest"
import { ModelError, RetryPolicy, RetrySchedule } from "effect-retry-layer"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import { TestClock } from "effect/testing"

const rateLimited = (retryAfter?: Duration.Duration) =>
  new ModelError.RateLimitError({
    provider: "test",
    message: "slow down",
    status: 429,
    ...(retryAfter === undefined ? {} : { retryAfter })
  })
const invalid = new ModelError.InvalidRequestError({ provider: "test", message: "bad", status: 400 })

/** A call that fails with `errors` in turn, then succeeds; the virtual time of each attempt is recorded. */
const scripted = (errors: ReadonlyArray<ModelError.ModelError>) => {
  const times: Array<number> = []
  const call = Effect.suspend(() => {
    const error = errors[times.length]
    return Effect.flatMap(
      Effect.clockWith((clock) => Effect.sync(() => times.push(clock.currentTimeMillisUnsafe()))),
      () => error === undefined ? Effect.succeed("ok") : Effect.fail(error)
    )
  })
  return { call, times }
}

/** Runs `effect` forked and moves the test clock on until it ends. */
const settle = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(effect)
    for (let i = 0; i < 100 && fiber.pollUnsafe() === undefined; i++) yield* TestClock.adjust("1 second")
    return yield* Fiber.await(fiber)
  })

describe("RetryPolicy on Effect 4", () => {
  it("reads options as the Effect 3 line does: an object of duration parts is refused, not read as zero", () => {
    // Effect 4's Duration.fromInput reads `{}` as zero and `{ seconds: 1 }` as a second; Effect 3 reads neither.
    for (const baseDelay of [{}, { seconds: 1 }]) {
      assert.throws(
        () => RetryPolicy.from({ baseDelay } as unknown as RetryPolicy.Input),
        /baseDelay: expected a Duration/
      )
    }
    assert.throws(() => RetryPolicy.from({ baseDelay: "-1 seconds" }), /non-negative/)
    assert.throws(() => RetryPolicy.from({ retyr: 3 } as RetryPolicy.Input), /retyr: unknown option/)
    assert.strictEqual(Duration.toMillis(RetryPolicy.from({ baseDelay: "250 millis" }).baseDelay), 250)
  })

  it.effect("decode fails in the error channel", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(RetryPolicy.decode({ maxAttempts: "three" }))
      assert.isTrue(Exit.isFailure(exit))
    }))
})

describe("RetrySchedule (Effect 4)", () => {
  it.effect("waits the backoff, exactly, without jitter", () =>
    Effect.gen(function*() {
      const { call, times } = scripted([rateLimited(), rateLimited()])
      const exit = yield* settle(Effect.retry(call, RetrySchedule.make({ baseDelay: "1 second", jitter: "none" })))
      assert.deepStrictEqual(exit, Exit.succeed("ok"))
      assert.deepStrictEqual(times, [0, 1_000, 3_000])
    }))

  it.effect("takes a server's Retry-After as a floor under the backoff, and jitter only adds to it", () =>
    Effect.gen(function*() {
      const { call, times } = scripted([rateLimited(Duration.seconds(5)), rateLimited(Duration.millis(10))])
      const exit = yield* settle(Effect.retry(call, RetrySchedule.make({ baseDelay: "1 second" })))
      assert.isTrue(Exit.isSuccess(exit))
      // Retry 1 waits the hint (5 s, above the 1 s backoff) plus 0-10%; retry 2 the backoff (2 s, above the
      // 10 ms hint) plus 0-10%.
      const [first, second, third] = times as [number, number, number]
      assert.strictEqual(first, 0)
      assert.isTrue(second >= 5_000 && second < 5_500, `retry 1 at ${second} ms`)
      assert.isTrue(third - second >= 2_000 && third - second < 2_200, `retry 2 ${third - second} ms later`)
    }))

  it.effect("does not retry a permanent error, and stops after maxAttempts", () =>
    Effect.gen(function*() {
      const permanent = scripted([invalid])
      const exit = yield* settle(Effect.retry(permanent.call, RetrySchedule.make()))
      assert.deepStrictEqual(exit, Exit.fail(invalid))
      assert.strictEqual(permanent.times.length, 1)
      const transient = scripted([rateLimited(), rateLimited(), rateLimited(), rateLimited()])
      const last = yield* settle(Effect.retry(transient.call, RetrySchedule.make({ maxAttempts: 3 })))
      assert.isTrue(Exit.isFailure(last))
      assert.strictEqual(transient.times.length, 3)
    }))

  it.effect("a hint above maxRetryAfter is not waited for", () =>
    Effect.gen(function*() {
      const { call, times } = scripted([rateLimited(Duration.minutes(10))])
      const exit = yield* settle(Effect.retry(call, RetrySchedule.make({ maxRetryAfter: "1 minute" })))
      assert.isTrue(Exit.isFailure(exit))
      assert.deepStrictEqual(times, [0])
    }))

  it.effect("each step sees the failed error, the attempt and the wait, the same for the same seed", () =>
    Effect.gen(function*() {
      const stepsOf = Effect.gen(function*() {
        const step = yield* Schedule.toStepWithMetadata(RetrySchedule.make<ModelError.ModelError>({ maxAttempts: 4 }))
        const out: Array<RetrySchedule.RetryStep<ModelError.ModelError>> = []
        for (let i = 0; i < 3; i++) out.push((yield* step(rateLimited(Duration.seconds(2)))).output)
        return out
      })
      const seeded = <A, E>(effect: Effect.Effect<A, E>) => Random.withSeed(effect, "retry")
      const first = yield* Effect.forkChild(seeded(stepsOf))
      yield* TestClock.adjust("1 minute")
      const steps = yield* Fiber.join(first)
      assert.deepStrictEqual(steps.map((s) => s.attempt), [1, 2, 3])
      assert.deepStrictEqual(steps.map((s) => s.classification._tag), ["Transient", "Transient", "Transient"])
      const waits = steps.map((s) => Duration.toMillis(s.delay)) // The hint (2 s) is a floor under 1 s and 2 s; the backoff (4 s) is above it; jitter adds 0-10%.
      ;[2_000, 2_000, 4_000].forEach((floor, i) => assert.isTrue(waits[i]! >= floor && waits[i]! < floor * 1.1))
      const again = yield* Effect.forkChild(seeded(stepsOf))
      yield* TestClock.adjust("1 minute")
      assert.deepStrictEqual((yield* Fiber.join(again)).map((s) => Duration.toMillis(s.delay)), waits)
    }))
})
