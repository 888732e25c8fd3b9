import { describe, expect, it } from "@effect/vitest"
import { FaultServer } from "effect-retry-layer/testing/server"
import * as Effect from "effect/Effect"

const post = (url: string, body: unknown) =>
  Effect.promise(() =>
    fetch(url, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } })
  )

describe("FaultServer", () => {
  it.scoped("plays scripted replies in order and records requests", () =>
    Effect.gen(function*() {
      const server = yield* FaultServer.make()
      yield* server.enqueue(
        FaultServer.json(429, { error: "slow" }, { headers: { "retry-after": "2" } }),
        FaultServer.stream([FaultServer.event({ a: 1 }, "first"), FaultServer.event("multi\nline")])
      )
      const first = yield* post(`${server.url}/v1/x`, { n: 1 })
      expect(first.status).toBe(429)
      expect(first.headers.get("retry-after")).toBe("2")
      expect(first.headers.get("request-id")).toBe("req_fault_1")
      expect(yield* Effect.promise(() => first.json())).toEqual({ error: "slow" })
      const second = yield* post(`${server.url}/v1/y`, { n: 2 })
      expect(second.headers.get("content-type")).toContain("text/event-stream")
      expect(yield* Effect.promise(() => second.text())).toBe(
        "event: first\ndata: {\"a\":1}\n\ndata: multi\ndata: line\n\n"
      )
      const requests = yield* server.requests
      expect(requests.map((r) => [r.method, r.url, r.json])).toEqual([["POST", "/v1/x", { n: 1 }], [
        "POST",
        "/v1/y",
        { n: 2 }
      ]])
    }))

  it.scoped("answers an unscripted request with a loud 400, or asks the handler", () =>
    Effect.gen(function*() {
      const server = yield* FaultServer.make({
        handler: (request, index) => request.url === "/dynamic" ? FaultServer.json(200, { index }) : FaultServer.reset
      })
      const dynamic = yield* post(`${server.url}/dynamic`, {})
      expect(yield* Effect.promise(() => dynamic.json())).toEqual({ index: 0 })
      const bare = yield* FaultServer.make()
      const unscripted = yield* post(`${bare.url}/x`, {})
      expect(unscripted.status).toBe(400)
      expect(yield* Effect.promise(() => unscripted.text())).toContain("no reply scripted for request #1")
    }))

  it.scoped("resets, stalls and counts connections; awaits without sleeping", () =>
    Effect.gen(function*() {
      const server = yield* FaultServer.make()
      yield* server.enqueue(FaultServer.reset, FaultServer.stall)
      const reset = yield* Effect.either(Effect.tryPromise(() => fetch(`${server.url}/a`, { method: "POST" })))
      expect(reset._tag).toBe("Left")
      const controller = new AbortController()
      const stalled = fetch(`${server.url}/b`, { method: "POST", signal: controller.signal }).catch(() => "aborted")
      yield* server.awaitRequests(2)
      expect(yield* server.inFlight).toBe(1)
      controller.abort()
      expect(yield* Effect.promise(() => stalled)).toBe("aborted")
      yield* server.awaitClosed(2)
      // both the reset and the aborted connection closed (fetch's pool may open a spare one meanwhile)
      expect((yield* server.connections).closed).toBeGreaterThanOrEqual(2)
      expect(yield* server.inFlight).toBe(0)
    }))
})
