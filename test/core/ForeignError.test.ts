// ForeignError on both lines: what it recognises whatever the Effect (fetch, AWS SDK, codes, statuses). Each line's
// own HTTP client errors are read in its test/ForeignError.test.ts.
import { describe, expect, it } from "@effect/vitest"
import { ForeignError, RetrySchedule } from "effect-retry-layer"
import { hint, tagOf } from "../support/foreign.js"

const fetchFailed = (code?: string) =>
  new TypeError("fetch failed", code === undefined ? {} : { cause: Object.assign(new Error(code), { code }) })

describe("ForeignError.recognize", () => {
  it("Node's fetch failures are connection errors, except a host that does not resolve", () => {
    expect(tagOf(fetchFailed())).toBe("ConnectionError")
    for (const code of ["ECONNRESET", "ECONNREFUSED", "ETIMEDOUT", "UND_ERR_SOCKET", "UND_ERR_HEADERS_TIMEOUT"]) {
      expect(tagOf(fetchFailed(code))).toBe("ConnectionError")
    }
    expect(tagOf(fetchFailed("ENOTFOUND"))).toBeUndefined()
    expect(tagOf(Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }))).toBe("ConnectionError")
    expect(tagOf(AbortSignal.timeout(0).reason ?? new DOMException("t", "TimeoutError"))).toBe("TimeoutError")
  })

  it("an AWS SDK v3 error: the code first, then $metadata.httpStatusCode, with the request id", () => {
    const limit = Object.assign(new Error("Rate exceeded"), {
      name: "LimitExceededException",
      $metadata: { httpStatusCode: 429, requestId: "req-1" }
    })
    expect(ForeignError.recognize(limit)).toMatchObject({ tag: "RateLimitError", status: 429, requestId: "req-1" })
    expect(RetrySchedule.isThrottling(limit)).toBe(true)
    const throttled400 = Object.assign(new Error("slow down"), {
      name: "ThrottlingException",
      $metadata: { httpStatusCode: 400 }
    })
    expect(tagOf(throttled400)).toBe("RateLimitError")
    const marked = Object.assign(new Error("x"), { name: "Whatever", $retryable: { throttling: true } })
    expect(tagOf(marked)).toBe("RateLimitError")
  })

  it("headers in any case, as a record or a Headers object", () => {
    expect(hint({ status: 503, headers: { "Retry-After": "3" } })).toBe(3000)
    expect(hint({ status: 503, headers: new Headers({ "retry-after-ms": "40" }) })).toBe(40)
    expect(hint({ status: 503, response: { headers: { "RETRY-AFTER": ["5"] } } })).toBe(5000)
  })

  it("nothing unrecognised is retried: programming errors, odd statuses, hostile objects", () => {
    expect(tagOf(new TypeError("x is not a function"))).toBeUndefined()
    expect(tagOf(new RangeError("Invalid array length"))).toBeUndefined()
    expect(tagOf({ status: 1e9 })).toBeUndefined()
    expect(tagOf({ status: "soon" })).toBeUndefined()
    expect(tagOf("ECONNRESET")).toBeUndefined()
    const hostile = new Proxy({}, {
      get: () => {
        throw new Error("no")
      },
      has: () => {
        throw new Error("no")
      }
    })
    expect(tagOf(hostile)).toBeUndefined()
  })
})
