import { assert, describe, it } from "@effect/vitest"
import { ModelError, RetryAcquisition } from "effect-retry-layer"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import { TestClock } from "effect/testing"
import * as Tracer from "effect/Tracer"

const overloaded = new ModelError.OverloadedError({ provider: "p", message: "busy", status: 529 })

/** A call that fails with `failures` overloaded errors, then succeeds. */
const failing = (failures: number) => {
  let calls = 0
  return Effect.suspend(() => ++calls <= failures ? Effect.fail(overloaded) : Effect.succeed(calls))
}

describe("RetryAcquisition (Effect 4)", () => {
  it.effect("counts retries by reason and operation, the attempts per call, and the waits", () =>
    Effect.gen(function*() {
      const operation = "db.connect"
      const fiber = yield* Effect.forkChild(
        failing(2).pipe(
          RetryAcquisition.retryAcquisition({ baseDelay: "1 second", jitter: "none" }, { name: operation })
        )
      )
      yield* TestClock.adjust("10 seconds")
      assert.deepStrictEqual(yield* Fiber.await(fiber), Exit.succeed(3))
      const retries = yield* Metric.value(
        Metric.withAttributes(RetryAcquisition.retriesTotal, { operation, reason: "OverloadedError" })
      )
      assert.strictEqual(retries.count, 2)
      const attempts = yield* Metric.value(Metric.withAttributes(RetryAcquisition.attempts, { operation }))
      assert.strictEqual(attempts.count, 1)
      assert.strictEqual(attempts.sum, 3)
      const waits = yield* Metric.value(Metric.withAttributes(RetryAcquisition.retryDelays, { operation }))
      assert.strictEqual(waits.sum, 3_000)
    }))

  it.effect("a span per call and per attempt, the attempt's with its failure's classification and status", () =>
    Effect.gen(function*() {
      const spans: Array<{ name: string; attributes: Record<string, unknown> }> = []
      const tracer = Tracer.make({
        span: (options) => {
          const span = new Tracer.NativeSpan(options)
          spans.push({ name: options.name, attributes: {} })
          const record = spans.at(-1)!
          const attribute = span.attribute.bind(span)
          span.attribute = (key, value) => {
            record.attributes[key] = value
            attribute(key, value)
          }
          for (const [key, value] of span.attributes) record.attributes[key] = value
          return span
        }
      })
      const fiber = yield* Effect.forkChild(
        failing(1).pipe(
          RetryAcquisition.retryAcquisition({ baseDelay: "1 second", jitter: "none" }, { name: "call" }),
          Effect.withTracer(tracer)
        )
      )
      yield* TestClock.adjust("10 seconds")
      assert.deepStrictEqual(yield* Fiber.await(fiber), Exit.succeed(2))
      assert.deepStrictEqual(spans.map((span) => span.name), ["call", "call.attempt", "call.attempt"])
      assert.include(spans[1]!.attributes, {
        "retry.attempt": 1,
        "retry.classification": "Transient",
        "error.type": "OverloadedError",
        "http.response.status_code": 529
      })
      assert.include(spans[2]!.attributes, { "retry.attempt": 2, "retry.delay_ms": 1_000 })
      assert.include(spans[0]!.attributes, { "retry.attempts": 2 })
    }))
})
