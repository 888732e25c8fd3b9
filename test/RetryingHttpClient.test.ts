import { NodeHttpClient } from "@effect/platform-node"
import * as HttpClient from "@effect/platform/HttpClient"
import { describe, expect, it } from "@effect/vitest"
import type { RetrySchedule } from "effect-retry-layer"
import { RetryingHttpClient } from "effect-retry-layer/http"
import { FaultServer } from "effect-retry-layer/testing/server"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { advanceTo } from "./support/virtualTime.js"

const fast = { maxAttempts: 3, baseDelay: 0, jitter: false } as const

const setup = (policy: RetrySchedule.RetryPolicy.Input = fast) =>
  Effect.gen(function*() {
    const server = yield* FaultServer.make()
    const client = RetryingHttpClient.transformClient(policy)(yield* HttpClient.HttpClient)
    return { server, client }
  })

const withHttp = Effect.provide(NodeHttpClient.layerUndici)

describe("RetryingHttpClient.transformClient", () => {
  it.scoped("a 429 is waited out (retry-after-ms) and retried; the caller gets the answer", () =>
    Effect.gen(function*() {
      const { client, server } = yield* setup()
      yield* server.enqueue(
        FaultServer.anthropicError(429, "rate_limit_error", "slow down", { "retry-after-ms": "250" }),
        FaultServer.json(200, { ok: true })
      )
      const fiber = yield* Effect.fork(Effect.flatMap(client.get(`${server.url}/v1/models`), (r) => r.json))
      yield* advanceTo(250)
      expect(yield* Fiber.join(fiber)).toEqual({ ok: true })
      expect(yield* server.requests).toHaveLength(2)
    }).pipe(withHttp))

  it.scoped("a permanent status is the caller's at once, body and headers intact", () =>
    Effect.gen(function*() {
      const { client, server } = yield* setup()
      yield* server.enqueue(
        FaultServer.anthropicError(400, "invalid_request_error", "bad field", { "x-request-id": "r1" })
      )
      const response = yield* client.get(`${server.url}/v1/messages`)
      expect(response.status).toBe(400)
      expect(response.headers["x-request-id"]).toBe("r1")
      expect(yield* response.json).toEqual({
        type: "error",
        error: { type: "invalid_request_error", message: "bad field" }
      })
      expect(yield* server.requests).toHaveLength(1)
    }).pipe(withHttp))

  it.scoped("when retries end, the caller gets the last response, as @effect/ai would have", () =>
    Effect.gen(function*() {
      const { client, server } = yield* setup()
      yield* server.enqueue(
        FaultServer.json(503, { n: 1 }),
        FaultServer.json(503, { n: 2 }),
        FaultServer.json(503, { n: 3 })
      )
      const response = yield* client.get(`${server.url}/x`)
      expect([response.status, yield* response.json]).toEqual([503, { n: 3 }])
      expect(yield* server.requests).toHaveLength(3)
    }).pipe(withHttp))

  it.scoped("x-should-retry: false on a 503 is not retried; a reset before headers is", () =>
    Effect.gen(function*() {
      const { client, server } = yield* setup()
      yield* server.enqueue(
        FaultServer.json(503, {}, { headers: { "x-should-retry": "false" } }),
        FaultServer.reset,
        FaultServer.json(200, { ok: 1 })
      )
      expect((yield* client.get(`${server.url}/a`)).status).toBe(503)
      expect((yield* client.get(`${server.url}/b`)).status).toBe(200)
      expect(yield* server.requests).toHaveLength(3)
    }).pipe(withHttp))

  it.scoped("an open stream is the caller's: an error event inside it is never retried", () =>
    Effect.gen(function*() {
      const { client, server } = yield* setup()
      yield* server.enqueue(FaultServer.stream([
        FaultServer.event({ type: "content_block_delta" }, "content_block_delta"),
        FaultServer.anthropicErrorEvent("overloaded_error", "Overloaded")
      ]))
      const response = yield* client.get(`${server.url}/s`)
      const text = yield* response.stream.pipe(Stream.decodeText(), Stream.mkString)
      expect(text).toContain("overloaded_error")
      expect(yield* server.requests).toHaveLength(1)
    }).pipe(withHttp))

  it.scoped("its own timeout reaches the caller as a Transport HttpClientError caused by a TimeoutError", () =>
    Effect.gen(function*() {
      const { client, server } = yield* setup({ maxAttempts: 1, timeout: "1 second" })
      yield* server.enqueue(FaultServer.stall)
      const fiber = yield* Effect.fork(Effect.flip(client.get(`${server.url}/slow`)))
      yield* server.awaitRequests(1)
      yield* TestClock.adjust("1 second")
      const error = yield* Fiber.join(fiber)
      expect(error._tag).toBe("RequestError")
      expect(error.reason).toBe("Transport")
      expect((error.cause as { _tag: string })._tag).toBe("TimeoutError")
    }).pipe(withHttp))

  it("refuses a policy with a commit point it cannot honour", () => {
    expect(() => RetryingHttpClient.transformClient({ commitOn: "first-chunk" })).toThrow(
      /RetryingHttpClient cannot honour commitOn/
    )
  })
})
