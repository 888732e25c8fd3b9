import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { connect, createServer, type Socket } from "node:net"
import { expiry } from "../../../src/core/internal/storeTimeout.js"
import { async } from "../../../src/internal/compat.js"

/** Both ends of a loopback connection for the life of the scope: what `server` writes, `client` reads. */
const connection = Effect.acquireRelease(
  async<{ readonly client: Socket; readonly server: Socket; readonly close: () => void }>((resume) => {
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
      const reply = async<string>((resume) => {
        client.once("data", (data) => resume(Effect.succeed(data.toString())))
      })
      const race = Effect.raceFirst(
        Effect.map(reply, (text) => ({ replied: text })),
        Effect.map(expiry(50), (why) => ({ timedOut: why }))
      )
      // Both sides of the race are waiting (the timer is armed) when the reply is written: it is in the client's
      // socket at once (loopback) and the loop is blocked past the timer's time, in the check phase: the loop's
      // next turn runs due timers first, then reads sockets.
      const write = Effect.andThen(
        Effect.sleep("5 millis"),
        async<void>((resume) => {
          setImmediate(() => {
            server.write("pong")
            busy(1_200)
            resume(Effect.void)
          })
        })
      )
      const [outcome] = yield* Effect.all([race, write], { concurrency: "unbounded" })
      expect(outcome).toEqual({ replied: "pong" })
    }).pipe(Effect.scoped))

  it.live("no reply: the wait ends after the timeout", () =>
    Effect.gen(function*() {
      const started = performance.now()
      expect(yield* expiry(50)).toBe("no answer within 50 ms")
      expect(performance.now() - started).toBeGreaterThanOrEqual(49)
    }))
})
