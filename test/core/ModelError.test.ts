import { describe, expect, it } from "@effect/vitest"
import { ModelError, Retryable, RetrySchedule } from "effect-retry-layer"
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"

const fields = { provider: "test", message: "m", status: 500, requestId: "req_1" } as const

describe("ModelError", () => {
  it.each(
    [
      ["RateLimitError", new ModelError.RateLimitError(fields), true],
      ["OverloadedError", new ModelError.OverloadedError(fields), true],
      ["ServerError", new ModelError.ServerError(fields), true],
      ["ConflictError", new ModelError.ConflictError(fields), true],
      ["TimeoutError", new ModelError.TimeoutError(fields), true],
      ["ConnectionError", new ModelError.ConnectionError(fields), true],
      ["CircuitOpenError", new ModelError.CircuitOpenError(fields), true],
      ["RetryBudgetExhaustedError", new ModelError.RetryBudgetExhaustedError(fields), true],
      ["QuotaExceededError", new ModelError.QuotaExceededError(fields), false],
      ["InvalidRequestError", new ModelError.InvalidRequestError(fields), false],
      ["AuthenticationError", new ModelError.AuthenticationError(fields), false],
      ["StreamError", new ModelError.StreamError(fields), false]
    ] as const
  )("%s classifies as transient: %s", (tag, error, transient) => {
    expect(error._tag).toBe(tag)
    expect(ModelError.isModelError(error)).toBe(true)
    expect(Retryable.isTransient(error)).toBe(transient)
    expect(error).toBeInstanceOf(Error)
    expect(error.message).toBe("m")
    expect(error.requestId).toBe("req_1")
  })

  it("carries the server's retry hint into its classification", () => {
    const e = new ModelError.RateLimitError({ ...fields, status: 429, retryAfter: Duration.seconds(2) })
    expect(Retryable.retryAfter(e)).toStrictEqual(Option.some(Duration.seconds(2)))
  })

  it("an explicit shouldRetry overrides the tag's default both ways", () => {
    expect(Retryable.isTransient(new ModelError.InvalidRequestError({ ...fields, shouldRetry: true }))).toBe(true)
    expect(Retryable.isTransient(new ModelError.ServerError({ ...fields, shouldRetry: false }))).toBe(false)
    expect(
      Retryable.retryAfter(
        new ModelError.RateLimitError({ ...fields, shouldRetry: false, retryAfter: Duration.seconds(1) })
      )
    ).toStrictEqual(Option.none())
  })

  it("isModelError is false for other errors", () => {
    expect(ModelError.isModelError(new Error("x"))).toBe(false)
    expect(ModelError.isModelError({ _tag: "RateLimitError" })).toBe(false)
  })

  it("throttling is a rate limit or an overload only", () => {
    expect(RetrySchedule.isThrottling(new ModelError.RateLimitError(fields))).toBe(true)
    expect(RetrySchedule.isThrottling(new ModelError.OverloadedError(fields))).toBe(true)
    expect(RetrySchedule.isThrottling(new ModelError.ServerError(fields))).toBe(false)
    expect(RetrySchedule.isThrottling(new ModelError.CircuitOpenError(fields))).toBe(false)
    expect(RetrySchedule.isThrottling("429")).toBe(false)
  })

  it("make builds the error for a tag chosen at run time", () => {
    const error = ModelError.make("OverloadedError", fields)
    expect(error).toBeInstanceOf(ModelError.OverloadedError)
    expect(error._tag).toBe("OverloadedError")
  })
})
