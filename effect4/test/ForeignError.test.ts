import { assert, describe, it } from "@effect/vitest"
import { ForeignError, RetrySchedule } from "effect-retry-layer"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as HttpClientError from "effect/http/HttpClientError"
import * as HttpClientRequest from "effect/http/HttpClientRequest"
import * as HttpClientResponse from "effect/http/HttpClientResponse"
import * as Option from "effect/Option"
import { TestClock } from "effect/testing"

// The Effect 3 line's ForeignError tests read @effect/platform's errors; these read effect/http's.
const request = HttpClientRequest.get("http://127.0.0.1/v1")
const status = (code: number, headers: Record<string, string> = {}) =>
  new HttpClientError.HttpClientError({
    reason: new HttpClientError.StatusCodeError({
      request,
      response: HttpClientResponse.fromWeb(request, new Response("", { status: code, headers }))
    })
  })
const transport = new HttpClientError.HttpClientError({
  reason: new HttpClientError.TransportError({ request, cause: new Error("socket hang up") })
})
const decode = new HttpClientError.HttpClientError({
  reason: new HttpClientError.DecodeError({
    request,
    response: HttpClientResponse.fromWeb(request, new Response("", { status: 200 }))
  })
})

describe("ForeignError on Effect 4's effect/http errors", () => {
  it("reads a status with its hints, a transport failure as a connection error, a decode failure as permanent", () => {
    const unavailable = ForeignError.recognize(status(503, { "retry-after": "2" }))
    assert.strictEqual(unavailable?.tag, "ServerError")
    assert.strictEqual(unavailable?.status, 503)
    const limited = RetrySchedule.classifyUnder(
      RetrySchedule.RetryPolicy.default,
      status(429, { "retry-after-ms": "1500" })
    )
    assert.deepStrictEqual(
      limited._tag === "Transient" ? Option.map(limited.retryAfter, Duration.toMillis) : Option.none(),
      Option.some(1500)
    )
    assert.strictEqual(ForeignError.recognize(status(400))?.tag, "InvalidRequestError")
    assert.strictEqual(ForeignError.recognize(transport)?.tag, "ConnectionError")
    assert.strictEqual(ForeignError.recognize(decode)?.tag, "InvalidRequestError")
    assert.strictEqual(RetrySchedule.classifyUnder(RetrySchedule.RetryPolicy.default, decode)._tag, "Permanent")
  })

  it.effect("Effect.retry with RetrySchedule.make retries a 503, waiting its Retry-After", () =>
    Effect.gen(function*() {
      const times: Array<number> = []
      const call = Effect.flatMap(
        Effect.clockWith((clock) => Effect.sync(() => clock.currentTimeMillisUnsafe())),
        (now) => {
          times.push(now)
          return times.length === 1 ? Effect.fail(status(503, { "retry-after": "4" })) : Effect.succeed("ok")
        }
      )
      const fiber = yield* Effect.forkChild(Effect.retry(call, RetrySchedule.make({ jitter: "none" })))
      yield* TestClock.adjust("10 seconds")
      assert.deepStrictEqual(yield* Fiber.await(fiber), Exit.succeed("ok"))
      assert.deepStrictEqual(times, [0, 4_000])
    }))
})
