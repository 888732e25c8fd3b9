import type { CompletionModel } from "effect-retry-layer"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import * as TestServices from "effect/TestServices"

/**
 * Waits, on the live clock, until some fiber sleeps until exactly `millis` of
 * virtual time, then moves the TestClock there.
 *
 * Real HTTP I/O runs on the live event loop, so a test cannot know when the
 * client has read a response and started its backoff; it can see the sleep.
 * Advancing only to a sleep the test expects (not to whichever is earliest)
 * keeps timeouts that are pending during I/O from firing early.
 */
export const advanceTo = (millis: number) => Effect.zipRight(awaitSleep(millis), TestClock.setTime(millis))

/**
 * Waits, on the live clock, until some fiber sleeps until exactly `millis` of
 * virtual time (e.g. a retry waiting out its hint), without moving the clock.
 */
export const awaitSleep = (millis: number) =>
  Effect.gen(function*() {
    const deadline = Date.now() + 10_000
    while (!Chunk.some(yield* TestClock.sleeps(), (wake) => wake === millis)) {
      if (Date.now() > deadline) {
        const pending = Chunk.toReadonlyArray(yield* TestClock.sleeps())
        return yield* Effect.dieMessage(`nothing slept until ${millis} ms within 10 s; pending: ${pending.join(", ")}`)
      }
      yield* TestServices.provideLive(Effect.sleep("1 millis"))
    }
  })

/**
 * A model that records the Clock time of every `chatStream` call on the way in.
 */
export const recordingCalls = (inner: CompletionModel.Service) => {
  const times: Array<number> = []
  const service: CompletionModel.Service = {
    ...inner,
    chatStream: (request) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        times.push(now)
        return inner.chatStream(request)
      })
  }
  return { service, times }
}
