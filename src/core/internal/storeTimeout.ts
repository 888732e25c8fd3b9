/**
 * The fleet store's timeout: it reads what has arrived before it decides.
 *
 * Node runs due timers before it reads sockets. After a stretch of a busy
 * event loop (a GC pause, a CPU-bound handler, a burst of calls starting,
 * every core busy), a plain timeout fires while the store's reply waits,
 * unread, in the socket, and the process takes a working store for dead
 * (measured: 4 processes starting 125 calls each on one Redis saw store
 * replies take up to 140 ms to be read while Redis answered at once). So
 * when the time is up, the wait gives the event loop one turn of I/O
 * (`setImmediate` runs after the poll phase): a reply that arrived is read
 * then, and only a store that really did not answer times out.
 */
import * as Effect from "effect/Effect"
import { async } from "../../internal/compat.js"

/** One turn of the event loop's I/O: replies already in a socket are read (and their fibers resumed) first. */
const ioTurn: Effect.Effect<void> = async<void>((resume) => {
  // A runtime without `setImmediate` (not Node, Bun or Deno) gets a zero timer: the next turn, I/O included.
  if (typeof setImmediate !== "function") {
    const timer = setTimeout(() => resume(Effect.void), 0)
    return Effect.sync(() => clearTimeout(timer))
  }
  const handle = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(handle))
})

/**
 * Succeeds, with why, `timeoutMillis` after it starts and one turn of I/O later
 * (race it against the awaited effect).
 */
export const expiry = (timeoutMillis: number): Effect.Effect<string> =>
  Effect.sleep(timeoutMillis).pipe(Effect.andThen(ioTurn), Effect.as(`no answer within ${timeoutMillis} ms`))
