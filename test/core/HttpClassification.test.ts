import { describe, expect, it } from "@effect/vitest"
import { HttpClassification, Retryable } from "effect-retry-layer"
// The providers' tables (each adapter exports its own, e.g. `ErrorTypes.openai`): the same objects, on both lines.
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as fc from "fast-check"
import * as ErrorTypes from "../../src/core/internal/errorTypes.js"
import { TestClock } from "../support/line.js"
import { keys, leaked } from "../support/secrets.js"

const classify = (status: number, options: Partial<HttpClassification.FailedResponse> = {}) =>
  HttpClassification.fromResponseAt({ provider: "p", status, headers: {}, body: "", ...options }, 0)

describe("HttpClassification.fromResponse", () => {
  const transient = [408, 409, 425, 429, 500, 502, 503, 504, 529, 507, 599]
  const permanent = [400, 401, 403, 404, 413, 422, 402, 405, 418, 451, 300, 600]

  it.each(transient)("%i is transient", (status) => {
    expect(Retryable.isTransient(classify(status))).toBe(true)
  })

  it.each(permanent)("%i is permanent", (status) => {
    expect(Retryable.isTransient(classify(status))).toBe(false)
  })

  it.each(
    [
      [400, "InvalidRequestError"],
      [401, "AuthenticationError"],
      [403, "AuthenticationError"],
      [404, "InvalidRequestError"],
      [408, "TimeoutError"],
      [409, "ConflictError"],
      [413, "InvalidRequestError"],
      [422, "InvalidRequestError"],
      [425, "ConflictError"],
      [429, "RateLimitError"],
      [500, "ServerError"],
      [503, "ServerError"],
      [529, "OverloadedError"]
    ] as const
  )("%i is a %s", (status, tag) => {
    const error = classify(status)
    expect(error._tag).toBe(tag)
    expect(error.status).toBe(status)
    expect(error.provider).toBe("p")
  })

  it("x-should-retry overrides the status both ways", () => {
    expect(Retryable.isTransient(classify(503, { headers: { "x-should-retry": "false" } }))).toBe(false)
    expect(Retryable.isTransient(classify(400, { headers: { "x-should-retry": "true" } }))).toBe(true)
  })

  it("carries retry-after, retry-after-ms and the request id", () => {
    const a = classify(429, { headers: { "retry-after": "2", "request-id": "req_a" } })
    expect(a.retryAfter && Duration.toMillis(a.retryAfter)).toBe(2000)
    expect(a.requestId).toBe("req_a")
    const b = classify(429, { headers: { "retry-after-ms": "120", "x-request-id": "req_b" } })
    expect(Retryable.retryAfter(b)).toStrictEqual(Option.some(Duration.millis(120)))
    expect(b.requestId).toBe("req_b")
    expect(classify(429, { headers: { "x-amzn-requestid": "aws-1" } }).requestId).toBe("aws-1")
    expect(classify(429, { headers: { "apim-request-id": "az-1" } }).requestId).toBe("az-1")
  })

  it.effect("reads a Retry-After date against Clock", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.UTC(2026, 0, 1))
      const error = yield* HttpClassification.fromResponse({
        provider: "p",
        status: 503,
        headers: { "retry-after": "Thu, 01 Jan 2026 00:00:07 GMT" },
        body: ""
      })
      expect(error.retryAfter && Duration.toMillis(error.retryAfter)).toBe(7000)
    }))

  it("reads the provider's error type and message from an Anthropic body", () => {
    const error = classify(529, {
      body: JSON.stringify({ type: "error", error: { type: "overloaded_error", message: "Overloaded" } })
    })
    expect(error._tag).toBe("OverloadedError")
    expect(error.errorType).toBe("overloaded_error")
    expect(error.message).toBe("p responded 529 overloaded_error: Overloaded")
  })

  it("says so when the body's message is empty, and when there is no body", () => {
    const body = JSON.stringify({ type: "error", error: { type: "overloaded_error", message: " " } })
    expect(classify(529, { body }).message).toBe("p responded 529 overloaded_error: (an empty message)")
    expect(classify(503).message).toBe("p responded 503: no body")
  })

  it("reads an OpenAI body, preferring the type the table knows", () => {
    const body = JSON.stringify({
      error: { message: "You exceeded your current quota", type: "insufficient_quota", code: "insufficient_quota" }
    })
    const quota = classify(429, { body, errorTypes: { insufficient_quota: "QuotaExceededError" } })
    expect(quota._tag).toBe("QuotaExceededError")
    expect(Retryable.isTransient(quota)).toBe(false)
    const limited = classify(429, {
      body: JSON.stringify({ error: { message: "slow down", type: "requests", code: "rate_limit_exceeded" } }),
      errorTypes: { insufficient_quota: "QuotaExceededError" }
    })
    expect(limited._tag).toBe("RateLimitError")
    // nothing the table knows: the most specific of what was sent, the code
    expect(limited.errorType).toBe("rate_limit_exceeded")
  })

  it("OpenAI's 401 invalid_api_key is an AuthenticationError: the code before the type", () => {
    const body = JSON.stringify({
      error: { message: "Incorrect API key provided", type: "invalid_request_error", code: "invalid_api_key" }
    })
    const error = classify(401, { body, errorTypes: ErrorTypes.openai })
    expect(error._tag).toBe("AuthenticationError")
    expect(error.errorType).toBe("invalid_api_key")
  })

  describe("secrets are scrubbed before the text is cut", () => {
    const secret = Redacted.make(keys.awsSecretAccessKey)
    // the secret starts 10 characters before the 200-character cut of a quoted body, and of the 2 KiB one
    const around = (cut: number) => `${"x".repeat(cut - 10)}${keys.awsSecretAccessKey} and more`

    it.each([0, 10, 190, 195, 199, 2040])(
      "a secret straddling a cut (%i characters in) is not quoted, whole or in part",
      (at) => {
        const body = `${"y".repeat(at)}${keys.awsSecretAccessKey}${"z".repeat(3000)}`
        for (
          const text of [
            classify(500, { body, secrets: [secret] }).message,
            classify(500, { body: JSON.stringify({ message: body }), secrets: [secret] }).message,
            HttpClassification.fromErrorEvent({ provider: "p", data: body, errorTypes: {}, secrets: [secret] }).message,
            HttpClassification.safeText(body, [secret], 200),
            HttpClassification.safeText(body, [secret])
          ]
        ) {
          expect(leaked(text, keys.awsSecretAccessKey)).toEqual([])
        }
      }
    )

    it("a long text that scrubbing shortens is marked as cut, and a secret cut off where reading stopped is not quoted", () => {
      // 100 echoes of the secret: what is read (the first 200 + 256 characters) scrubs down to under 200, and
      // ends in a piece of an echo that no scrub recognises (it was seen: 16 characters of the key quoted)
      for (const [echoes, at] of [[100, 0], [100, 7], [30, 3]] as const) {
        const text = HttpClassification.safeText(
          `${"x".repeat(at)}${keys.awsSecretAccessKey.repeat(echoes)}`,
          [secret],
          200
        )
        expect(text).toMatch(/\.\.\. \(truncated\)$/)
        expect(leaked(text, keys.awsSecretAccessKey)).toEqual([])
      }
    })

    it("a non-JSON 500 quoting the secret across its 200-character cut", () => {
      const error = classify(500, { body: around(200), secrets: [secret] })
      expect(error.message).toBe(`p responded 500: ${"x".repeat(190)}[redacted]... (truncated)`)
    })

    it("the providers' key formats and AWS access key ids are scrubbed without being held", () => {
      for (const key of [keys.anthropic, keys.openai, keys.awsAccessKeyId]) {
        const error = classify(529, {
          body: JSON.stringify({
            type: "error",
            error: { type: "overloaded_error", message: `invalid use of key ${key}` }
          })
        })
        expect(error.message).toContain("invalid use of key [redacted]")
        expect(leaked(error.message, key)).toEqual([])
      }
      // ordinary words that merely start like a key are left alone
      expect(HttpClassification.safeText("task-force sk-short AKIA")).toBe("task-force sk-short AKIA")
    })
  })

  it("keeps at most 2 KiB of a provider's message, and scrubs a key the server echoed", () => {
    const key = Redacted.make("sk-test-0123456789abcdef")
    const huge = classify(400, { body: JSON.stringify({ error: { message: "m".repeat(20 * 1024 * 1024) } }) })
    expect(huge.message.length).toBeLessThan(2200)
    expect(huge.message).toMatch(/\.\.\. \(truncated\)$/)
    const echoed = Effect.runSync(HttpClassification.fromResponse({
      provider: "openai",
      status: 401,
      headers: {},
      body: JSON.stringify({ error: { message: `Incorrect API key provided: ${Redacted.value(key)}` } }),
      secrets: [key]
    }))
    expect(echoed.message).toBe("openai responded 401: Incorrect API key provided: [redacted]")
    const midStream = HttpClassification.fromErrorEvent({
      provider: "anthropic",
      data: JSON.stringify({ type: "error", error: { type: "api_error", message: "e".repeat(5 * 1024 * 1024) } }),
      errorTypes: {}
    })
    expect(midStream.message.length).toBeLessThan(2200)
  })

  it("reads AWS error types from the body or the x-amzn-errortype header, even on a 400", () => {
    const table = { ThrottlingException: "RateLimitError" } as const
    const fromHeader = classify(400, {
      headers: { "x-amzn-errortype": "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/" },
      body: JSON.stringify({ message: "Too many requests, please wait before trying again." }),
      errorTypes: table
    })
    expect(fromHeader._tag).toBe("RateLimitError")
    expect(fromHeader.errorType).toBe("ThrottlingException")
    expect(fromHeader.message).toContain("Too many requests")
    const fromBody = classify(400, {
      body: JSON.stringify({ __type: "com.amazon.coral.availability#ThrottlingException", Message: "Rate exceeded" }),
      errorTypes: table
    })
    expect(fromBody._tag).toBe("RateLimitError")
    expect(fromBody.message).toContain("Rate exceeded")
  })

  it.each([
    ["not JSON", "<html><body>502 Bad Gateway</body></html>", "<html><body>502 Bad Gateway</body></html>"],
    ["truncated JSON", "{\"error\": {\"type\": \"overl", "{\"error\": {\"type\": \"overl"],
    ["JSON of another shape", "[1,2,3]", "[1,2,3]"],
    ["empty", "", "no body"],
    ["wrong field types", "{\"error\": {\"type\": 5}}", "{\"error\": {\"type\": 5}}"]
  ])("a body that is %s still gives a typed error with the status rule", (_, body, said) => {
    const error = classify(502, { body })
    expect(error._tag).toBe("ServerError")
    expect(error.message).toBe(`p responded 502: ${said}`)
  })

  it("keeps long bodies out of the message", () => {
    const error = classify(500, { body: "x".repeat(10_000) })
    expect(error.message.length).toBeLessThan(300)
  })

  it("never throws, whatever the status, headers and body", () =>
    fc.assert(fc.property(
      fc.integer({ min: 100, max: 999 }),
      fc.dictionary(fc.constantFrom("retry-after", "x-should-retry", "request-id"), fc.string()),
      fc.oneof(fc.string(), fc.json()),
      (status, headers, body) => {
        const error = classify(status, { headers, body })
        expect(error.status).toBe(status)
      }
    )))
})

describe("HttpClassification.fromErrorEvent", () => {
  const table = { overloaded_error: "OverloadedError", rate_limit_error: "RateLimitError" } as const

  it("classifies a known mid-stream error type", () => {
    const error = HttpClassification.fromErrorEvent({
      provider: "anthropic",
      data: JSON.stringify({ type: "error", error: { type: "overloaded_error", message: "Overloaded" } }),
      errorTypes: table,
      requestId: "req_1"
    })
    expect(error._tag).toBe("OverloadedError")
    expect(error.requestId).toBe("req_1")
    expect(error.status).toBeUndefined()
    expect(error.message).toBe("anthropic sent an error mid-stream (overloaded_error): Overloaded")
  })

  it("an unknown type or a malformed event is a StreamError", () => {
    expect(
      HttpClassification.fromErrorEvent({ provider: "a", data: "{\"error\":{\"type\":\"odd\"}}", errorTypes: table })
        ._tag
    )
      .toBe("StreamError")
    expect(HttpClassification.fromErrorEvent({ provider: "a", data: "not json", errorTypes: table })._tag).toBe(
      "StreamError"
    )
  })
})
