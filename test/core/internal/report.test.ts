import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import { retryLine } from "../../../src/core/internal/report.js"
import * as ModelError from "../../../src/core/ModelError.js"
import * as Retryable from "../../../src/core/Retryable.js"
import * as RetryPolicy from "../../../src/core/RetryPolicy.js"

const policy = RetryPolicy.policy({ maxAttempts: 4 })
const limited = new ModelError.RateLimitError({ provider: "p", message: "slow down", status: 429 })
const line = (hint: number | undefined, delay: number) =>
  retryLine("p/m", policy, {
    attempt: 1,
    error: limited,
    classification: Retryable.transient(hint === undefined ? undefined : Duration.millis(hint)),
    delay: Duration.millis(delay)
  }, []).message

describe("the retry's log line", () => {
  it("says why the wait is what it is: the server's hint as asked, the hint as a floor under backoff, or backoff", () => {
    expect(line(500, 500)).toBe(
      "p/m: attempt 1 of 4 failed with RateLimitError (status 429): slow down; retrying in 500 ms, as the server asked"
    )
    expect(line(500, 1089)).toBe(
      "p/m: attempt 1 of 4 failed with RateLimitError (status 429): slow down; retrying in 1089 ms " +
        "(the server's 500 ms hint is the floor; backoff and jitter above it)"
    )
    expect(line(undefined, 533)).toBe(
      "p/m: attempt 1 of 4 failed with RateLimitError (status 429): slow down; retrying in 533 ms"
    )
  })
})
