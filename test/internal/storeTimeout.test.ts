import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import { connect, createServer, type Socket } from "node:net"
import { expiry } from "../../src/internal/storeTimeout.js"

/** Both ends of a loopback connection for the life of the scope: what `server` writes, `client` reads. */
const connection = Effect.acquireRelease(
  Effect.async<{ readonly client: Socket; readonly server: Socket; readonly close: () => void }>((resume) => {
    const listener = createServer((server) =>
      resume(Effect.succeed({
        client,
        server,
        close: () => {
          client.destroy()
          server.destroy()
          listener.close()
        }
      }))
    )
    let client: Socket
    listener.listen(0, "127.0.0.1", () => {
      const address = listener.address()
      client = connect(typeof address === "object" && address !== null ? address.port : 0, "127.0.0.1")
    })
  }),
  ({ close }) => Effect.sync(close)
)

const busy = (millis: number) => {
  const until = performance.now() + millis
  while (performance.now() < until) {
    // the event loop is blocked
  }
}

describe("storeTimeout", () => {
  // Real sockets and the real clock: what is tested is the order in which Node runs timers and reads sockets.
  it.live("a reply that arrived while the process was blocked past the timeout wins over the timeout", () =>
    Effect.gen(function*() {
      const { client, server } = yield* connection
      const reply = Effect.async<string>((resume) => {
        client.once("data", (data) => resume(Effect.succeed(data.toString())))
      })
      const outcome = yield* Effect.fork(Effect.raceFirst(
        Effect.map(reply, Either.right),
        Effect.map(expiry(50), Either.left)
      ))
      yield* Effect.sleep("5 millis") // both sides of the race are waiting: the timer is armed
      // The reply is in the client's socket at once (loopback) and the loop is blocked past the timer's time, in
      // the check phase: the loop's next turn runs due timers first, then reads sockets.
      yield* Effect.async<void>((resume) => {
        setImmediate(() => {
          server.write("pong")
          busy(1_200)
          resume(Effect.void)
        })
      })
      expect(yield* Fiber.join(outcome)).toEqual(Either.right("pong"))
    }).pipe(Effect.scoped))

  it.live("no reply: the wait ends after the timeout", () =>
    Effect.gen(function*() {
      const started = performance.now()
      expect(yield* expiry(50)).toBe("no answer within 50 ms")
      expect(performance.now() - started).toBeGreaterThanOrEqual(49)
    }))
})
