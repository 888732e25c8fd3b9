import { describe, expect, it } from "@effect/vitest"
import { Retryable } from "effect-retry-layer"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"

class Busy extends Data.TaggedError("Busy")<{ readonly waitMs?: number }> {
  [Retryable.symbol]() {
    return Retryable.transient(this.waitMs === undefined ? undefined : Duration.millis(this.waitMs))
  }
}

describe("Retryable", () => {
  it("an error that implements the protocol classifies itself", () => {
    expect(Retryable.classify(new Busy({ waitMs: 50 }))).toStrictEqual(
      Retryable.RetryClassification.Transient({ retryAfter: Option.some(Duration.millis(50)) })
    )
    expect(Retryable.classify(new Busy({}))).toStrictEqual(
      Retryable.RetryClassification.Transient({ retryAfter: Option.none() })
    )
  })

  it.each([
    ["a plain Error", new Error("boom")],
    ["a string", "timeout"],
    ["undefined", undefined],
    ["null", null],
    ["an object whose key is not a method", { [Retryable.symbol]: "transient" }],
    [
      "a tagged error that does not implement it",
      new (Data.TaggedError("Other")<{ readonly reason: string }>)({ reason: "x" })
    ]
  ])("anything else is Permanent: %s", (_, value) => {
    expect(Retryable.isRetryable(value)).toBe(false)
    expect(Retryable.classify(value)).toStrictEqual(Retryable.permanent)
    expect(Retryable.isTransient(value)).toBe(false)
    expect(Retryable.retryAfter(value)).toStrictEqual(Option.none())
  })

  it("retryAfter reads the hint of a transient error", () => {
    expect(Retryable.retryAfter(new Busy({ waitMs: 7 }))).toStrictEqual(Option.some(Duration.millis(7)))
    expect(Retryable.isTransient(new Busy({}))).toBe(true)
  })
})
