import { describe, expect, it } from "@effect/vitest"
import type { CompletionModel } from "effect-retry-layer"
import { CircuitBreaker, InvalidOptions, Retryable, RetryingModel } from "effect-retry-layer"
import { ScriptedModel } from "effect-retry-layer/testing"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as TestClock from "effect/TestClock"
import { consume, failure } from "./support/chat.js"
import { thrown } from "./support/thrown.js"

const request: CompletionModel.ChatRequest = { messages: [{ role: "user", content: "Hi" }] }
const down = () => ScriptedModel.serverError({ message: "down" })
const ok = ScriptedModel.reply("ok")

/** A breaker over a scripted model, with the recorder of the calls that reached the model. */
const breaker = (script: ReadonlyArray<ScriptedModel.Turn>, options: CircuitBreaker.Options.Input) =>
  Effect.gen(function*() {
    const [inner, recorder] = yield* ScriptedModel.make(script)
    return { model: yield* CircuitBreaker.decorate(options)(inner), calls: recorder.count }
  })

const call = (model: CompletionModel.Service) => Effect.map(consume(model, request), ({ exit }) => exit)

/** Log lines, to read the state changes back. */
const captureLogs = () => {
  const lines: Array<string> = []
  const logger = Logger.make(({ logLevel, message }) => {
    lines.push(`${logLevel.label} ${Array.isArray(message) ? message.join(" ") : String(message)}`)
  })
  return { lines, layer: Logger.replace(Logger.defaultLogger, logger) }
}

describe("CircuitBreaker", () => {
  it.effect("opens after the threshold and then fails fast without calling the model", () =>
    Effect.gen(function*() {
      const { calls, model } = yield* breaker([down(), down(), down(), ok], {
        consecutiveFailures: 3,
        resetTimeout: "10 seconds"
      })
      for (let i = 0; i < 3; i++) expect(failure(yield* call(model))?._tag).toBe("ServerError")
      expect(yield* calls).toBe(3)
      yield* TestClock.adjust("4 seconds")
      const rejected = failure(yield* call(model))
      expect(rejected?._tag).toBe("CircuitOpenError")
      // transient, and it says exactly how long until the next probe
      expect(Retryable.isTransient(rejected)).toBe(true)
      expect(rejected?.retryAfter && Duration.toMillis(rejected.retryAfter)).toBe(6000)
      expect(rejected?.message).toBe("scripted/scripted-model: circuit open; next probe in 6s")
      expect(yield* calls).toBe(3)
    }))

  it.effect("half-opens after exactly the reset timeout and closes after a successful probe", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const { calls, model } = yield* breaker([down(), down(), ok, ok, ok], {
        consecutiveFailures: 2,
        resetTimeout: "10 seconds"
      })
      yield* call(model)
      yield* call(model)
      yield* TestClock.adjust("9999 millis")
      expect(failure(yield* call(model))?._tag).toBe("CircuitOpenError")
      yield* TestClock.adjust("1 millis")
      expect(yield* call(model)).toStrictEqual(Exit.void) // the probe
      expect(yield* call(model)).toStrictEqual(Exit.void) // closed again
      expect(yield* calls).toBe(4)
      expect(logs.lines).toEqual([
        "WARN circuit scripted/scripted-model: Closed -> Open (2 failures in a row)",
        "INFO circuit scripted/scripted-model: Open -> HalfOpen (reset timeout passed; probing)",
        "INFO circuit scripted/scripted-model: HalfOpen -> Closed (probe succeeded)"
      ])
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect("reopens after a failed probe, for another full reset timeout", () =>
    Effect.gen(function*() {
      const { calls, model } = yield* breaker([down(), down(), ok], {
        consecutiveFailures: 1,
        resetTimeout: "5 seconds"
      })
      yield* call(model)
      yield* TestClock.adjust("5 seconds")
      expect(failure(yield* call(model))?._tag).toBe("ServerError") // the probe fails
      yield* TestClock.adjust("4999 millis")
      expect(failure(yield* call(model))?._tag).toBe("CircuitOpenError")
      yield* TestClock.adjust("1 millis")
      expect(yield* call(model)).toStrictEqual(Exit.void)
      expect(yield* calls).toBe(3)
    }))

  it.effect("lets only halfOpenProbes calls probe at once", () =>
    Effect.gen(function*() {
      // the probe takes 1 s to answer; a second caller meanwhile is refused without a hint
      const [inner, recorder] = yield* ScriptedModel.make([down(), ok])
      const slow: CompletionModel.Service = {
        ...inner,
        chatStream: (r) => Effect.delay(inner.chatStream(r), "1 second")
      }
      const model = yield* CircuitBreaker.decorate({ consecutiveFailures: 1, resetTimeout: "5 seconds" })(slow)
      const first = yield* Effect.fork(call(model))
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(first)
      yield* TestClock.adjust("5 seconds")
      const probe = yield* Effect.fork(call(model))
      yield* TestClock.adjust("10 millis")
      const refused = failure(yield* call(model))
      expect(refused?._tag).toBe("CircuitOpenError")
      expect(refused?.retryAfter).toBeUndefined()
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(probe)).toStrictEqual(Exit.void)
      expect(yield* recorder.count).toBe(2)
    }))

  it.effect("opens on the failure rate over a window", () =>
    Effect.gen(function*() {
      // alternate failure and success: never 3 in a row, but 50% of the last 6
      const script = [down(), ok, down(), ok, down(), ok, ok]
      const { calls, model } = yield* breaker(script, {
        consecutiveFailures: 3,
        failureRate: { threshold: 0.5, window: 6 }
      })
      for (let i = 0; i < 6; i++) yield* call(model)
      expect(failure(yield* call(model))?._tag).toBe("CircuitOpenError")
      expect(yield* calls).toBe(6)
    }))

  it.effect("does not count permanent errors or throttling as failures", () =>
    Effect.gen(function*() {
      const script = [
        ScriptedModel.invalidRequest(),
        ScriptedModel.rateLimited(),
        ScriptedModel.overloaded(),
        ScriptedModel.invalidRequest(),
        ok
      ]
      const { calls, model } = yield* breaker(script, { consecutiveFailures: 1 })
      for (let i = 0; i < 5; i++) yield* call(model)
      expect(yield* calls).toBe(5)
    }))

  it.effect("a retry layer above waits exactly until the probe", () =>
    Effect.gen(function*() {
      const [inner, recorder] = yield* ScriptedModel.make([down(), down(), ok])
      const guarded = yield* CircuitBreaker.decorate({ consecutiveFailures: 2, resetTimeout: "7 seconds" })(inner)
      const model = RetryingModel.make(guarded, { maxAttempts: 5, baseDelay: "10 millis", jitter: false })
      const fiber = yield* Effect.fork(call(model))
      yield* TestClock.adjust("1 minute")
      expect(yield* Fiber.join(fiber)).toStrictEqual(Exit.void)
      // attempts at 0 and 10 ms fail and open the circuit at 10 ms; the third attempt (20 ms later) is refused
      // with 6,990 ms to go, and the fourth is the probe at exactly 7,010 ms
      expect((yield* recorder.calls).map((c) => c.at)).toEqual([0, 10, 7010])
    }))

  it.effect("by default rides out 30% random failures over 10,000 calls, and opens when half of 100 fail", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make()
      let n = 0
      // a fixed pseudo-random pattern: 30% of calls fail, in runs of up to 9
      const flaky = Effect.suspend(() => {
        const x = Math.sin(++n * 12.9898) * 43758.5453
        return x - Math.floor(x) < 0.3 ? Effect.fail(down()) : Effect.void
      })
      let longestRun = 0
      let run = 0
      for (let i = 0; i < 10_000; i++) {
        const exit = yield* Effect.exit(breaker.apply(flaky))
        run = Exit.isFailure(exit) ? run + 1 : 0
        longestRun = Math.max(longestRun, run)
        expect(failure(exit)?._tag).not.toBe("CircuitOpenError")
      }
      expect(longestRun).toBeGreaterThanOrEqual(5) // the runs that tripped the old consecutive-failures default
      expect((yield* breaker.state)._tag).toBe("Closed")
      // a server that fails 60%: open within the first 100 calls
      const bad = Effect.suspend(() => ++n % 5 < 3 ? Effect.fail(down()) : Effect.void)
      let calls = 0
      while ((yield* breaker.state)._tag === "Closed") {
        calls++
        yield* Effect.exit(breaker.apply(bad))
      }
      expect(calls).toBeLessThanOrEqual(100)
      expect(failure(yield* Effect.exit(breaker.apply(bad)))?._tag).toBe("CircuitOpenError")
    }).pipe(Logger.withMinimumLogLevel(LogLevel.None)))

  it("refuses bad options with an InvalidOptions that names each field", () => {
    for (
      const [input, field] of [
        [{ consecutiveFailures: 0 }, "consecutiveFailures"],
        [{ halfOpenProbes: -1 }, "halfOpenProbes"],
        [{ failureRate: { threshold: 0.5, window: 0 } }, "failureRate"],
        [{ failureRate: { threshold: 1.5, window: 10 } }, "failureRate"],
        [{ failureRate: { threshold: 0.5, window: 10, minimumCalls: 20 } }, "minimumCalls"],
        [{ resetTimeout: Infinity }, "resetTimeout"],
        [{ isFailure: "yes" }, "isFailure"],
        [{ consecutiveFailure: 3 }, "consecutiveFailure"]
      ] as const
    ) {
      const error = thrown(CircuitBreaker.options)(input)
      expect(error).toBeInstanceOf(InvalidOptions)
      expect((error as InvalidOptions).message).toContain(field)
    }
    expect(CircuitBreaker.options({ failureRate: false, consecutiveFailures: 3 }).failureRate).toBe(false)
  })
})
