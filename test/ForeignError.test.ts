// ForeignError on the Effect 3 line: @effect/platform's HTTP client errors, and every consumer of this line
// reading foreign errors alike. (What it recognises on both lines: test/core/ForeignError.test.ts.)
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { describe, expect, it } from "@effect/vitest"
import { ForeignError, RetryAcquisition, RetrySchedule } from "effect-retry-layer"
import { retry } from "effect-retry-layer/promise"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import { hint, tagOf } from "./support/foreign.js"

const request = HttpClientRequest.get("http://127.0.0.1/v1")

const responseError = (status: number, headers: Record<string, string> = {}) =>
  new HttpClientError.ResponseError({
    request,
    response: HttpClientResponse.fromWeb(request, new Response("", { status, headers })),
    reason: "StatusCode"
  })

describe("ForeignError.recognize: @effect/platform's errors", () => {
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
