import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { describe, expect, it } from "@effect/vitest"
import { FleetStore, ModelError, ResilientModel } from "effect-retry-layer"
import { ResilientHttpClient } from "effect-retry-layer/http"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as TestClock from "effect/TestClock"
import { buildFailure } from "./support/thrown.js"

/** A client answering from a script, in virtual time: each request gets the next reply; `sentAt` records when. */
const scripted = (replies: ReadonlyArray<() => Response>) => {
  const sentAt: Array<number> = []
  const client = HttpClient.make((request) =>
    Effect.map(Clock.currentTimeMillis, (now) => {
      sentAt.push(now)
      const reply = replies[Math.min(sentAt.length - 1, replies.length - 1)]!
      return HttpClientResponse.fromWeb(request, reply())
    })
  )
  return { client, sentAt }
}

// Anthropic's error body: its type is what the status is classified by
const status = (code: number, headers: Record<string, string> = {}) => () =>
  new Response(JSON.stringify({ type: "error", error: { type: errorTypes[code], message: `status ${code}` } }), {
    status: code,
    headers: { "content-type": "application/json", ...headers }
  })
const errorTypes: Record<number, string> = { 429: "rate_limit_error", 503: "api_error" }
const ok = (headers: Record<string, string> = {}) => () => new Response("{\"ok\":true}", { status: 200, headers })

const stack = (replies: ReadonlyArray<() => Response>, options: ResilientHttpClient.Options = {}) => {
  const server = scripted(replies)
  const layer = ResilientHttpClient.layer(options).pipe(
    Layer.provide(Layer.succeed(HttpClient.HttpClient, server.client)),
    Layer.provide(FleetStore.layerMemory)
  )
  return { layer, sentAt: server.sentAt }
}

const get = Effect.flatMap(HttpClient.HttpClient, (client) => client.get("https://api.example.test/v1/items"))

describe("ResilientHttpClient", () => {
  it.effect("a 429 cuts the limiter's rate and is retried after its hint; the caller gets the answer", () => {
    const { layer, sentAt } = stack([status(429, { "retry-after-ms": "1500" }), ok()], { retry: { jitter: false } })
    return Effect.gen(function*() {
      const fiber = yield* Effect.fork(Effect.flatMap(get, (response) => response.json))
      yield* TestClock.adjust("1 minute")
      expect(yield* Fiber.join(fiber)).toEqual({ ok: true })
      expect(sentAt).toEqual([0, 1500])
      const { breaker, limiter } = yield* ResilientModel.Policies
      expect((yield* limiter!.state).mode).toBe("cubic")
      // a throttle is the limiter's business, not a failure of the circuit
      expect(yield* breaker!.state).toMatchObject({ _tag: "Closed", failures: 0 })
    }).pipe(Effect.provide(layer))
  })

  it.effect("the provider's rate-limit headers on a success pace the next request", () => {
    // 60 requests a minute, none left: the next request has its slot a second later
    const { layer, sentAt } = stack([
      ok({
        "anthropic-ratelimit-requests-limit": "60",
        "anthropic-ratelimit-requests-remaining": "0",
        "anthropic-ratelimit-requests-reset": new Date(1_000).toISOString()
      }),
      ok()
    ])
    return Effect.gen(function*() {
      yield* get
      const fiber = yield* Effect.fork(get)
      yield* TestClock.adjust("10 seconds")
      expect((yield* Fiber.join(fiber)).status).toBe(200)
      expect(sentAt[0]).toBe(0)
      expect(sentAt[1]).toBeGreaterThanOrEqual(1_000)
    }).pipe(Effect.provide(layer))
  })

  it.effect("the retries wait out an open circuit and go through on its probe", () => {
    const { layer, sentAt } = stack([status(503), status(503), ok()], {
      retry: { maxAttempts: 5, baseDelay: "10 millis", jitter: false },
      breaker: { consecutiveFailures: 2, resetTimeout: "5 seconds" }
    })
    return Effect.gen(function*() {
      const fiber = yield* Effect.fork(get)
      yield* TestClock.adjust("1 minute")
      expect((yield* Fiber.join(fiber)).status).toBe(200)
      expect(sentAt).toEqual([0, 10, 5010])
    }).pipe(Effect.provide(layer), Logger.withMinimumLogLevel(LogLevel.None))
  })

  it.effect("a retry the budget refuses reaches the caller as a Transport error whose cause says so", () => {
    const { layer, sentAt } = stack([status(503), ok()], { budget: { ratio: 0, minPerSecond: 0 } })
    return Effect.gen(function*() {
      const fiber = yield* Effect.fork(Effect.flip(get))
      yield* TestClock.adjust("1 minute")
      const error = yield* Fiber.join(fiber)
      expect(error).toBeInstanceOf(HttpClientError.RequestError)
      expect((error as HttpClientError.RequestError).cause).toBeInstanceOf(ModelError.RetryBudgetExhaustedError)
      expect(sentAt).toEqual([0])
    }).pipe(Effect.provide(layer), Logger.withMinimumLogLevel(LogLevel.None))
  })

  it("refuses bad options when the layer is built, naming them", async () => {
    const built = (options: ResilientHttpClient.Options) =>
      buildFailure(
        ResilientHttpClient.layer(options).pipe(
          Layer.provide(Layer.succeed(HttpClient.HttpClient, scripted([ok()]).client)),
          Layer.provide(FleetStore.layerMemory)
        )
      )
    expect(String(await built({ limitter: {} } as never))).toContain("limitter: unknown option; did you mean limiter?")
    expect(String(await built({ retry: { commitOn: "first-chunk" } }))).toMatch(/commitOn/)
    expect(String(await built({ breaker: { resetTimeout: "soon" } } as never))).toMatch(/resetTimeout/)
  })
})
