import { describe, expect, it } from "@effect/vitest"
import type { RetrySchedule } from "effect-retry-layer"
import { Retryable, RetryAcquisition } from "effect-retry-layer"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as TestClock from "effect/TestClock"
import { failure } from "./support/chat.js"
import { capturingTracer } from "./support/tracing.js"

/** A resource error that says it is worth another try, with an optional hint. */
class Busy extends Data.TaggedError("Busy")<{ readonly retryAfterMs?: number; readonly status?: number }> {
  [Retryable.symbol]() {
    return Retryable.transient(this.retryAfterMs === undefined ? undefined : Duration.millis(this.retryAfterMs))
  }
}
class Refused extends Data.TaggedError("Refused") {}

/**
 * An acquisition that plays `outcomes` in order (an error, a delay then success, or success),
 * recording the Clock time of each attempt.
 */
const scripted = (outcomes: ReadonlyArray<Busy | Refused | { readonly takes: number } | "ok">) => {
  const times: Array<number> = []
  const effect = Effect.flatMap(Clock.currentTimeMillis, (now) => {
    const outcome = outcomes[times.length]
    times.push(now)
    if (outcome === undefined) return Effect.dieMessage("script exhausted")
    if (outcome === "ok") return Effect.succeed("connected")
    if ("takes" in outcome) return Effect.as(Effect.sleep(outcome.takes), "connected")
    return Effect.fail(outcome)
  })
  return { effect, times }
}

/** Runs in virtual time to the end. */
const settle = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    yield* TestClock.adjust("1 hour")
    return yield* Fiber.await(fiber)
  })

const exact = { baseDelay: "60 millis", maxDelay: "1 second", jitter: false } as const

describe("retryAcquisition", () => {
  it.effect("retries any effect whose errors classify themselves, data-first or piped", () =>
    Effect.gen(function*() {
      const a = scripted([new Busy({}), "ok"])
      expect(yield* settle(RetryAcquisition.retryAcquisition(a.effect, exact))).toStrictEqual(Exit.succeed("connected"))
      expect(a.times).toEqual([0, 60])
      const b = scripted([new Busy({}), new Refused(), "ok"])
      const exit = yield* settle(b.effect.pipe(RetryAcquisition.retryAcquisition(exact)))
      expect(failure(exit)?._tag).toBe("Refused") // not Retryable: permanent
      expect(b.times.map((t) => t - b.times[0]!)).toEqual([0, 60])
    }))

  describe("maxElapsed", () => {
    it.effect("does not start a wait that would cross the deadline; the last error comes back then", () =>
      Effect.gen(function*() {
        // waits of 60 then 120 ms: the second would end at 180 > 150
        const s = scripted([new Busy({}), new Busy({ status: 2 }), "ok"])
        const exit = yield* settle(RetryAcquisition.retryAcquisition(s.effect, { ...exact, maxElapsed: "150 millis" }))
        expect(failure(exit)).toStrictEqual(new Busy({ status: 2 }))
        expect(s.times).toEqual([0, 60])
      }))

    it.effect("does not shorten a server's Retry-After to fit: the wait is not started", () =>
      Effect.gen(function*() {
        const s = scripted([new Busy({ retryAfterMs: 500 }), "ok"])
        const exit = yield* settle(RetryAcquisition.retryAcquisition(s.effect, { ...exact, maxElapsed: "400 millis" }))
        expect(failure(exit)?._tag).toBe("Busy")
        expect(s.times).toEqual([0])
      }))

    it.effect("cuts off an attempt still running when the deadline passes", () =>
      Effect.gen(function*() {
        const s = scripted([new Busy({}), { takes: 10_000 }])
        const fiber = yield* Effect.fork(
          RetryAcquisition.retryAcquisition(s.effect, { ...exact, maxElapsed: "1 second" }, { name: "db.connect" })
        )
        yield* TestClock.adjust("999 millis")
        expect(fiber.unsafePoll()).toBeNull()
        yield* TestClock.adjust("1 millis")
        const error = failure(yield* Fiber.await(fiber))
        expect(error?._tag).toBe("TimeoutError")
        expect(error?.message).toBe("db.connect: attempt 2 cut off by the deadline of 1000 ms")
        expect(Retryable.isTransient(error)).toBe(true)
      }))
  })

  it.effect("timeout limits each attempt, and a timed-out attempt is retried", () =>
    Effect.gen(function*() {
      const s = scripted([{ takes: 5_000 }, "ok"])
      const exit = yield* settle(RetryAcquisition.retryAcquisition(s.effect, { ...exact, timeout: "200 millis" }))
      expect(exit).toStrictEqual(Exit.succeed("connected"))
      expect(s.times).toEqual([0, 260])
    }))

  it.effect("onRetry sees every retry exactly once, before its wait", () =>
    Effect.gen(function*() {
      const seen: Array<readonly [number, number, string, number]> = []
      const s = scripted([new Busy({}), new Busy({ retryAfterMs: 300 }), "ok"])
      const onRetry = (info: RetrySchedule.RetryStep<unknown>) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          seen.push([info.attempt, Duration.toMillis(info.delay), (info.error as Busy)._tag, now])
        })
      yield* settle(RetryAcquisition.retryAcquisition(s.effect, { ...exact, maxAttempts: 5 }, { onRetry }))
      expect(seen).toEqual([[1, 60, "Busy", 0], [2, 300, "Busy", 60]])
    }))

  it.effect("spans: one per call and one per attempt, with the documented attributes", () =>
    Effect.gen(function*() {
      const { spans, tracer } = yield* capturingTracer
      const s = scripted([new Busy({ status: 503 }), new Busy({ retryAfterMs: 250, status: 429 }), "ok"])
      yield* settle(
        RetryAcquisition.retryAcquisition(s.effect, { ...exact, maxAttempts: 5 }, {
          name: "http.get",
          attributes: { "server.address": "example.test" }
        }).pipe(Effect.withTracer(tracer))
      )
      const attributesOf = (span: (typeof spans)[number]) =>
        Object.fromEntries((span as unknown as { attributes: Map<string, unknown> }).attributes)
      const call = spans.filter((span) => span.name === "http.get")
      const attempts = spans.filter((span) => span.name === "http.get.attempt")
      expect(call).toHaveLength(1)
      expect(attributesOf(call[0]!)).toEqual({ "server.address": "example.test", "retry.attempts": 3 })
      expect(attempts.map(attributesOf)).toEqual([
        {
          "server.address": "example.test",
          "retry.attempt": 1,
          "retry.delay_ms": 0,
          "retry.classification": "Transient",
          "error.type": "Busy",
          "http.response.status_code": 503
        },
        {
          "server.address": "example.test",
          "retry.attempt": 2,
          "retry.delay_ms": 60,
          "retry.classification": "Transient",
          "error.type": "Busy",
          "http.response.status_code": 429
        },
        { "server.address": "example.test", "retry.attempt": 3, "retry.delay_ms": 250 }
      ])
      // attempts are children of the call
      expect(attempts.every((span) => Option.getOrUndefined(span.parent)?.spanId === call[0]!.spanId)).toBe(true)
    }))

  it.effect("metrics: retries by reason, attempts per call, delays", () =>
    Effect.gen(function*() {
      const operation = "metrics.test"
      const s = scripted([new Busy({}), new Busy({ retryAfterMs: 250 }), "ok", new Refused()])
      const retrying = RetryAcquisition.retryAcquisition(s.effect, { ...exact, maxAttempts: 5 }, { name: operation })
      yield* settle(retrying) // 3 attempts
      yield* settle(retrying) // 1 attempt, permanent failure
      const retries = yield* Metric.value(
        Metric.tagged(Metric.tagged(RetryAcquisition.retriesTotal, "operation", operation), "reason", "Busy")
      )
      expect(retries.count).toBe(2)
      const attempts = yield* Metric.value(Metric.tagged(RetryAcquisition.attempts, "operation", operation))
      expect(attempts.count).toBe(2)
      expect(attempts.sum).toBe(4)
      const delays = yield* Metric.value(Metric.tagged(RetryAcquisition.retryDelays, "operation", operation))
      expect([delays.count, delays.sum, delays.min, delays.max]).toEqual([2, 310, 60, 250])
    }))

  it.effect("an error whose message getter throws is still retried, logged and returned as itself", () =>
    Effect.gen(function*() {
      class Hostile extends Error {
        override get message(): string {
          throw new Error("the getter")
        }
        [Retryable.symbol]() {
          return Retryable.transient()
        }
      }
      let calls = 0
      const flaky = Effect.suspend(() => ++calls === 1 ? Effect.fail(new Hostile()) : Effect.succeed("ok"))
      const retried = yield* Effect.fork(RetryAcquisition.retryAcquisition(flaky, { maxAttempts: 2, baseDelay: 1 }))
      yield* TestClock.adjust(10)
      expect(yield* Fiber.join(retried)).toBe("ok")
      const failing = yield* Effect.fork(
        Effect.flip(RetryAcquisition.retryAcquisition(Effect.fail(new Hostile()), { maxAttempts: 2, baseDelay: 1 }))
      )
      yield* TestClock.adjust(10)
      expect(yield* Fiber.join(failing)).toBeInstanceOf(Hostile)
    }))

  it.effect("each attempt sees the schedule's iteration, as under Effect.retry: recurrence 0, 1, 2", () =>
    Effect.gen(function*() {
      const seen: Array<number> = []
      const attempt = Effect.flatMap(Schedule.CurrentIterationMetadata, (meta) => {
        seen.push(meta.recurrence)
        return seen.length < 3 ? Effect.fail(new Flaky()) : Effect.succeed("ok")
      })
      const fiber = yield* Effect.fork(RetryAcquisition.retryAcquisition(attempt, { maxAttempts: 3, baseDelay: 1 }))
      yield* TestClock.adjust(10)
      expect(yield* Fiber.join(fiber)).toBe("ok")
      expect(seen).toEqual([0, 1, 2])
    }))
})

class Flaky extends Data.TaggedError("Flaky") {
  [Retryable.symbol]() {
    return Retryable.transient()
  }
}

describe("retry log lines", () => {
  const lines: Array<string> = []
  const capture = Logger.replace(
    Logger.defaultLogger,
    Logger.make(({ message }) => lines.push(Array.isArray(message) ? message.join(" ") : String(message)))
  )
  class Huge extends Data.TaggedError("Huge")<{ readonly message: string }> {
    [Retryable.symbol]() {
      return Retryable.transient()
    }
  }
  class Quiet extends Data.TaggedError("Quiet") {
    [Retryable.symbol]() {
      return Retryable.transient()
    }
  }
  const failing = (error: unknown) =>
    RetryAcquisition.retryAcquisition(Effect.fail(error), { maxAttempts: 2, baseDelay: 0 }).pipe(Effect.ignore)

  it.effect("carry at most 2 KiB of an error's message, marked as cut, and nothing for an empty one", () =>
    Effect.gen(function*() {
      lines.length = 0
      yield* failing(new Huge({ message: "x".repeat(1_000_000) }))
      yield* failing(new Quiet())
      expect(lines).toHaveLength(2)
      expect(lines[0]!.length).toBeLessThan(2300)
      expect(lines[0]).toContain("... (truncated); retrying in 0 ms")
      expect(lines[1]).toBe("retryAcquisition: attempt 1 of 2 failed with Quiet; retrying in 0 ms")
    }).pipe(Effect.provide(capture)))

  it.effect("name a foreign error and the status it carries, AWS $metadata included", () =>
    Effect.gen(function*() {
      lines.length = 0
      yield* failing(Object.assign(new Error("Rate exceeded"), {
        name: "LimitExceededException",
        $metadata: { httpStatusCode: 429 }
      }))
      expect(lines).toEqual([
        "retryAcquisition: attempt 1 of 2 failed with LimitExceededException (status 429): Rate exceeded; retrying in 0 ms"
      ])
    }).pipe(Effect.provide(capture)))
})
