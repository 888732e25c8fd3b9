import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { describe, expect, it } from "@effect/vitest"
import { ForeignError, RetryAcquisition, RetrySchedule } from "effect-retry-layer"
import { retry } from "effect-retry-layer/promise"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"

const request = HttpClientRequest.get("http://127.0.0.1/v1")

const responseError = (status: number, headers: Record<string, string> = {}) =>
  new HttpClientError.ResponseError({
    request,
    response: HttpClientResponse.fromWeb(request, new Response("", { status, headers })),
    reason: "StatusCode"
  })

const fetchFailed = (code?: string) =>
  new TypeError("fetch failed", code === undefined ? {} : { cause: Object.assign(new Error(code), { code }) })

const hint = (error: unknown) =>
  Option.getOrUndefined(
    Option.flatMap(ForeignError.classify(error), (c) =>
      c._tag === "Transient" ? Option.map(c.retryAfter, Duration.toMillis) : Option.none())
  )

const tagOf = (error: unknown) => ForeignError.recognize(error)?.tag

describe("ForeignError.recognize", () => {
  it("reads an @effect/platform response error by its status and headers", () => {
    expect(tagOf(responseError(503))).toBe("ServerError")
    expect(tagOf(responseError(529))).toBe("OverloadedError")
    expect(tagOf(responseError(400))).toBe("InvalidRequestError")
    expect(hint(responseError(429, { "retry-after": "2" }))).toBe(2000)
    expect(hint(responseError(503, { "retry-after-ms": "300" }))).toBe(300)
    // the server's explicit word wins over the status
    expect(Option.map(ForeignError.classify(responseError(503, { "x-should-retry": "false" })), (c) => c._tag))
      .toStrictEqual(Option.some("Permanent"))
  })

  it("a transport failure is a connection error; a bad URL or a decode failure is permanent", () => {
    expect(tagOf(new HttpClientError.RequestError({ request, reason: "Transport", cause: new Error("reset") }))).toBe(
      "ConnectionError"
    )
    expect(tagOf(new HttpClientError.RequestError({ request, reason: "InvalidUrl" }))).toBe("InvalidRequestError")
    const decode = new HttpClientError.ResponseError({
      request,
      response: HttpClientResponse.fromWeb(request, new Response("", { status: 200 })),
      reason: "Decode"
    })
    expect(ForeignError.classify(decode).pipe(Option.map((c) => c._tag))).toStrictEqual(Option.some("Permanent"))
  })

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

describe("every consumer classifies foreign errors alike", () => {
  it("retry(fn) retries Node's fetch failure, and still makes one call for a programming error", async () => {
    let calls = 0
    await expect(retry(async () => {
      calls++
      throw new TypeError("fetch failed")
    }, { maxAttempts: 3, baseDelay: 0 })).rejects.toThrow("fetch failed")
    expect(calls).toBe(3)
    calls = 0
    await expect(retry(async () => {
      calls++
      throw new TypeError("undefined is not a function")
    }, { maxAttempts: 3, baseDelay: 0 })).rejects.toThrow(TypeError)
    expect(calls).toBe(1)
  })

  it.effect("Effect.retry with RetrySchedule.make retries a platform 503, waiting its Retry-After", () =>
    Effect.gen(function*() {
      let calls = 0
      const call = Effect.suspend(() => {
        calls++
        return calls < 3 ? Effect.fail(responseError(503, { "retry-after": "5" })) : Effect.succeed("ok")
      })
      const fiber = yield* Effect.fork(Effect.retry(call, RetrySchedule.make({ jitter: false })))
      yield* TestClock.adjust("4999 millis")
      expect(calls).toBe(1)
      yield* TestClock.adjust("1 millis")
      expect(calls).toBe(2)
      yield* TestClock.adjust("5 seconds")
      expect(yield* fiber.await.pipe(Effect.flatten)).toBe("ok")
    }))

  it.effect("RetryAcquisition retries a transport failure", () =>
    Effect.gen(function*() {
      let calls = 0
      const call = Effect.suspend(() => {
        calls++
        return calls < 2
          ? Effect.fail(new HttpClientError.RequestError({ request, reason: "Transport" }))
          : Effect.succeed("ok")
      })
      const fiber = yield* Effect.fork(RetryAcquisition.retryAcquisition(call, { baseDelay: "10 millis" }))
      yield* TestClock.adjust("1 second")
      expect(yield* fiber.await.pipe(Effect.flatten)).toBe("ok")
      expect(calls).toBe(2)
    }))
})
