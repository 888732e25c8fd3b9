/**
 * A `CompletionModel` with a fixed capacity, for testing how a fleet of
 * callers behaves against a rate-limited server, in virtual time.
 *
 * It admits requests through a token bucket (`capacity` per second, `burst`
 * deep, refilled continuously by `Clock`) as they arrive, answers after
 * `latency`, and refuses what the bucket cannot admit with a 429
 * `RateLimitError`, whose `Retry-After` is, by `retryAfter`: absent
 * (`"none"`), a fixed duration (`"fixed"`), or the exact time until the
 * bucket has a token again (`"exact"`). It counts every request.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ThrottledModel } from "effect-retry-layer/testing"
 *
 * const program = Effect.gen(function*() {
 *   const [model, stats] = yield* ThrottledModel.make({ capacity: 50, latency: "200 millis" })
 *   // ... drive 1,000 calls through your layers, then:
 *   const { accepted, refused } = yield* stats
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import type * as CompletionModel from "../CompletionModel.js"
import * as ModelError from "../core/ModelError.js"
import { capacityAt, tokenBucket } from "../core/testing/throttle.js"
import * as ScriptedModel from "./ScriptedModel.js"

export { capacityAt, tokenBucket } from "../core/testing/throttle.js"

/**
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** Requests per second the server admits; `Infinity` for a server that never throttles. */
  readonly capacity: number
  /** Later capacities: from `at` (time since the first request) on, `capacity` requests per second. */
  readonly changes?: ReadonlyArray<{ readonly at: Duration.DurationInput; readonly capacity: number }>
  /** Share of admitted requests answered with a 503 `ServerError`, drawn from `Random`. Default 0. */
  readonly failureRate?: number
  /** Requests it admits at once after a quiet spell. Default `capacity` (one second's worth). */
  readonly burst?: number
  /** Time from a request to its answer. Default 0. */
  readonly latency?: Duration.DurationInput
  /** What a 429 says about when to come back. Default `"none"`. */
  readonly retryAfter?: "none" | "exact" | { readonly fixed: Duration.DurationInput }
}

/**
 * Requests admitted and refused so far.
 *
 * @category models
 * @since 0.1.0
 */
export interface Stats {
  /** Admitted and answered. */
  readonly accepted: number
  /** Answered 429. */
  readonly refused: number
  /** Admitted and answered 503. */
  readonly failed: number
}

/**
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: Options): Effect.Effect<readonly [CompletionModel.Service, Effect.Effect<Stats>]> =>
  Effect.gen(function*() {
    const burst = options.burst ?? options.capacity
    const latency = Duration.decode(options.latency ?? 0)
    const take = tokenBucket(capacityAt(options), burst)
    const failureRate = options.failureRate ?? 0
    const stats = yield* Ref.make<Stats>({ accepted: 0, refused: 0, failed: 0 })
    const answer = ScriptedModel.reply("ok")

    // Admission at arrival: a token, or how long until one.
    const admit = Effect.map(Clock.currentTimeMillis, (now) => {
      const wait = take(now)
      return wait === undefined ? undefined : Duration.millis(wait)
    })

    const refusal = (untilToken: Duration.Duration) => {
      const retryAfter = options.retryAfter === undefined || options.retryAfter === "none"
        ? undefined
        : options.retryAfter === "exact"
        ? untilToken
        : Duration.decode(options.retryAfter.fixed)
      return new ModelError.RateLimitError({
        provider: "throttled",
        status: 429,
        message: "throttled: over capacity",
        ...(retryAfter === undefined ? {} : { retryAfter })
      })
    }

    const unavailable = new ModelError.ServerError({
      provider: "throttled",
      status: 503,
      message: "throttled: unavailable"
    })

    const service: CompletionModel.Service = {
      name: "throttled",
      model: `capacity-${options.capacity}`,
      chatStream: () =>
        Effect.flatMap(
          admit,
          (untilToken) =>
            Effect.flatMap(failureRate > 0 ? Random.next : Effect.succeed(1), (draw) => {
              const outcome = untilToken !== undefined ? "refused" : draw < failureRate ? "failed" : "accepted"
              return Ref.update(stats, (s) => ({ ...s, [outcome]: s[outcome] + 1 })).pipe(
                Effect.zipRight(Effect.sleep(latency)),
                Effect.zipRight(
                  outcome === "accepted"
                    ? Effect.succeed(Stream.fromIterable(answer))
                    : Effect.fail(outcome === "failed" ? unavailable : refusal(untilToken!))
                )
              )
            })
        )
    }
    return [service, Ref.get(stats)] as const
  })
