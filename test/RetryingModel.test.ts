import { describe, expect, it } from "@effect/vitest"
import { CompletionModel, RetryingModel, RetrySchedule } from "effect-retry-layer"
import { ScriptedModel } from "effect-retry-layer/testing"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { buildFailure } from "./support/thrown.js"

const request: CompletionModel.ChatRequest = { messages: [{ role: "user", content: "Hi" }] }

/** One `chatStream` call through the layer: the chunks the caller received, and how it ended. */
const chat = Effect.gen(function*() {
  const chunks: Array<CompletionModel.StreamChunk> = []
  const model = yield* CompletionModel.CompletionModel
  const exit = yield* model.chatStream(request).pipe(
    Effect.flatMap((stream) => Stream.runForEach(stream, (chunk) => Effect.sync(() => chunks.push(chunk)))),
    Effect.exit
  )
  return { chunks, exit }
})

const provide = (script: ReadonlyArray<ScriptedModel.Turn>, policy: RetrySchedule.RetryPolicy.Input) =>
  Effect.provide(RetryingModel.layer(policy).pipe(Layer.provideMerge(ScriptedModel.layer(script))))

const callTimes = Effect.flatMap(ScriptedModel.ScriptedModel, (recorder) => recorder.calls).pipe(
  Effect.map((calls) => calls.map((call) => call.at))
)

/** Runs `chat` in virtual time until it ends, and reads back the times of the calls the model saw. */
const run = (script: ReadonlyArray<ScriptedModel.Turn>, policy: RetrySchedule.RetryPolicy.Input) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(chat)
    yield* TestClock.adjust("1 hour")
    const outcome = yield* Fiber.join(fiber)
    return { ...outcome, times: yield* callTimes }
  }).pipe(provide(script, policy))

const exact = { baseDelay: "10 millis", maxDelay: "40 millis", jitter: false } as const
const hello = ScriptedModel.reply("Hello", ", world")

const texts = (chunks: ReadonlyArray<CompletionModel.StreamChunk>) =>
  chunks.flatMap((chunk) => chunk._tag === "TextDelta" ? [chunk.text] : [])

describe("RetryingModel", () => {
  it.effect("retries until success: 2 calls when the first fails transiently", () =>
    Effect.gen(function*() {
      const { chunks, exit, times } = yield* run([ScriptedModel.serverError(), hello], exact)
      expect(times).toEqual([0, 10])
      expect(exit).toStrictEqual(Exit.void)
      expect(texts(chunks)).toEqual(["Hello", ", world"])
      expect(chunks.at(-1)?._tag).toBe("TurnFinished")
    }))

  it.effect("gives up after maxAttempts calls in all (3, not 4) and returns the last error", () =>
    Effect.gen(function*() {
      const errors = [
        ScriptedModel.serverError({ message: "first" }),
        ScriptedModel.overloaded({ message: "second" }),
        ScriptedModel.rateLimited({ message: "third" }),
        ScriptedModel.serverError({ message: "fourth" })
      ]
      const { exit, times } = yield* run([...errors, hello], { ...exact, maxAttempts: 3 })
      expect(times).toHaveLength(3)
      expect(exit).toStrictEqual(Exit.fail(errors[2]))
    }))

  it.effect("respects Retry-After: the second call happens exactly at 50 ms, not before", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(chat)
      const recorder = yield* ScriptedModel.ScriptedModel
      yield* TestClock.adjust("49 millis")
      expect(yield* recorder.count).toBe(1)
      yield* TestClock.adjust("1 millis")
      expect(yield* recorder.count).toBe(2)
      expect(texts((yield* Fiber.join(fiber)).chunks)).toEqual(["Hello", ", world"])
    }).pipe(provide([ScriptedModel.rateLimited({ retryAfter: "50 millis" }), hello], exact)))

  it.effect("honours a Retry-After above maxDelay", () =>
    Effect.gen(function*() {
      const { exit, times } = yield* run([ScriptedModel.rateLimited({ retryAfter: "1 second" }), hello], exact)
      expect(times).toEqual([0, 1000])
      expect(exit).toStrictEqual(Exit.void)
    }))

  const tooLong = ScriptedModel.rateLimited({ retryAfter: "5 minutes" })
  it.effect("does not wait for a Retry-After above maxRetryAfter: the error comes back at once", () =>
    Effect.gen(function*() {
      // no clock adjustment at all: the call must end without waiting
      const { exit } = yield* chat
      expect(exit).toStrictEqual(Exit.fail(tooLong))
      expect(yield* callTimes).toEqual([0])
    }).pipe(provide([tooLong, hello], {
      ...exact,
      maxRetryAfter: "1 minute"
    })))

  it.effect("does not retry permanent errors: 1 call", () =>
    Effect.gen(function*() {
      const bad = ScriptedModel.invalidRequest()
      const { exit, times } = yield* run([bad, hello], exact)
      expect(times).toEqual([0])
      expect(exit).toStrictEqual(Exit.fail(bad))
    }))

  const broken = ScriptedModel.overloaded({ message: "overloaded mid-stream" })
  // With either commit point, nothing after a delivered chunk is ever replayed.
  it.effect.each([["open", exact], ["first-chunk", { ...exact, commitOn: "first-chunk" }]] as const)(
    "does not retry mid-stream errors (commitOn: %s): the chunk, then the error, and 1 call",
    ([, policy]) =>
      Effect.gen(function*() {
        const { chunks, exit, times } = yield* run(
          [[CompletionModel.StreamChunk.TextDelta({ text: "Hel" }), broken], hello],
          policy
        )
        expect(texts(chunks)).toEqual(["Hel"])
        expect(exit).toStrictEqual(Exit.fail(broken))
        expect(times).toEqual([0])
      })
  )

  it.effect("backs off exponentially then caps: waits of 10, 20, 40, 40 ms", () =>
    Effect.gen(function*() {
      const { exit, times } = yield* run([...Array.from({ length: 4 }, () => ScriptedModel.serverError()), hello], {
        ...exact,
        maxAttempts: 5
      })
      expect(times).toEqual([0, 10, 30, 70, 110])
      expect(exit).toStrictEqual(Exit.void)
    }))

  it.effect("interruption during a backoff wait makes no further call", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(chat)
      const recorder = yield* ScriptedModel.ScriptedModel
      yield* TestClock.adjust("5 millis")
      expect(yield* recorder.count).toBe(1)
      yield* Fiber.interrupt(fiber)
      yield* TestClock.adjust("1 hour")
      expect(yield* recorder.count).toBe(1)
    }).pipe(provide([ScriptedModel.serverError(), hello], exact)))

  it.effect("does not retry a defect in the inner model", () =>
    Effect.gen(function*() {
      let calls = 0
      const dying: CompletionModel.Service = {
        name: "dying",
        model: "m",
        chatStream: () => Effect.suspend(() => (calls++, Effect.dieMessage("bug in the adapter")))
      }
      const exit = yield* Effect.exit(RetryingModel.make(dying, exact).chatStream(request))
      expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
      expect(calls).toBe(1)
    }))

  it.effect("passes name and model through", () =>
    Effect.gen(function*() {
      const model = yield* CompletionModel.CompletionModel
      expect([model.name, model.model]).toEqual(["acme", "acme-large"])
    }).pipe(Effect.provide(
      RetryingModel.layer().pipe(Layer.provide(ScriptedModel.layer([], { name: "acme", model: "acme-large" })))
    )))

  it.effect("logs each retry as a warning annotated with attempt, delay and error tag", () =>
    Effect.gen(function*() {
      const logs: Array<{ level: string; message: string; annotations: Record<string, unknown> }> = []
      const capture = Logger.make(({ annotations, logLevel, message }) => {
        logs.push({
          level: logLevel.label,
          message: Array.isArray(message) ? message.join(" ") : String(message),
          annotations: Object.fromEntries(annotations)
        })
      })
      yield* run(
        [ScriptedModel.rateLimited({ retryAfter: "50 millis" }), ScriptedModel.overloaded(), hello],
        exact
      ).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, capture)))
      expect(logs.map((l) => l.level)).toEqual(["WARN", "WARN"])
      expect(logs[0]?.annotations).toEqual({ attempt: 1, delayMillis: 50, error: "RateLimitError", status: 429 })
      expect(logs[1]?.annotations).toEqual({ attempt: 2, delayMillis: 20, error: "OverloadedError", status: 529 })
      expect(logs[0]?.message).toBe(
        "scripted/scripted-model: attempt 1 of 3 failed with RateLimitError (status 429): scripted rate limit; retrying in 50 ms, as the server asked"
      )
    }))

  it("rejects an invalid policy when the layer is built, in the error channel", async () => {
    expect(await buildFailure(RetryingModel.layer({ maxAttempts: 0 }))).toBeInstanceOf(RetrySchedule.InvalidRetryPolicy)
    expect(String(await buildFailure(RetryingModel.layer({ factor: 0.5 })))).toMatch(/factor/)
    expect(await buildFailure(RetryingModel.layer({ maxAttempts: 2 }))).toBeUndefined()
  })

  describe("commitOn: \"first-chunk\"", () => {
    const firstChunk = { ...exact, commitOn: "first-chunk" } as const

    it.effect("retries an error that comes before the first chunk", () =>
      Effect.gen(function*() {
        const { chunks, exit, times } = yield* run([[ScriptedModel.overloaded()], hello], firstChunk)
        expect(times).toEqual([0, 10])
        expect(exit).toStrictEqual(Exit.void)
        expect(texts(chunks)).toEqual(["Hello", ", world"])
      }))

    it.effect("by default (commitOn: \"open\") the same first-event error reaches the caller", () =>
      Effect.gen(function*() {
        const overloaded = ScriptedModel.overloaded()
        const { exit, times } = yield* run([[overloaded], hello], exact)
        expect(exit).toStrictEqual(Exit.fail(overloaded))
        expect(times).toEqual([0])
      }))

    it.effect("an empty stream stays empty", () =>
      Effect.gen(function*() {
        const { chunks, exit } = yield* run([[]], firstChunk)
        expect([chunks, exit]).toStrictEqual([[], Exit.void])
      }))

    it.effect.prop(
      "delivers every chunk once, in order, whatever the script",
      [FastCheck.array(FastCheck.string({ maxLength: 4 }), { minLength: 1, maxLength: 30 }), FastCheck.nat({ max: 3 })],
      ([pieces, failuresFirst]) =>
        Effect.gen(function*() {
          const script = [
            ...Array.from({ length: failuresFirst }, () => [ScriptedModel.overloaded()]),
            ScriptedModel.reply(...pieces)
          ]
          const { chunks, exit, times } = yield* run(script, { ...firstChunk, maxAttempts: 4 })
          expect(exit).toStrictEqual(Exit.void)
          expect(texts(chunks)).toEqual(pieces)
          expect(times).toHaveLength(failuresFirst + 1)
        })
    )
  })

  // A scripted turn for the property: a transient failure (maybe with a hint), a permanent one,
  // or a reply that may break mid-stream.
  type Step =
    | { readonly kind: "transient"; readonly retryAfter: number | undefined }
    | { readonly kind: "permanent" }
    | { readonly kind: "reply"; readonly pieces: ReadonlyArray<string>; readonly breaks: boolean }

  const arbitraryStep: FastCheck.Arbitrary<Step> = FastCheck.oneof(
    FastCheck.record({
      kind: FastCheck.constant("transient" as const),
      retryAfter: FastCheck.option(FastCheck.integer({ min: 0, max: 500 }), { nil: undefined })
    }),
    FastCheck.constant({ kind: "permanent" as const }),
    FastCheck.record({
      kind: FastCheck.constant("reply" as const),
      pieces: FastCheck.array(FastCheck.string({ maxLength: 5 }), { maxLength: 20 }),
      breaks: FastCheck.boolean()
    })
  )

  const toTurn = (step: Step): ScriptedModel.Turn => {
    switch (step.kind) {
      case "transient":
        return step.retryAfter === undefined
          ? ScriptedModel.serverError()
          : ScriptedModel.rateLimited({ retryAfter: step.retryAfter })
      case "permanent":
        return ScriptedModel.invalidRequest()
      case "reply": {
        const chunks = ScriptedModel.reply(...step.pieces)
        return step.breaks ? [...chunks.slice(0, -1), ScriptedModel.overloaded()] : chunks
      }
    }
  }

  it.effect.prop(
    "never exceeds maxAttempts, waits at least retryAfter, calls once on a permanent error, loses no chunk",
    [
      FastCheck.record({
        maxAttempts: FastCheck.integer({ min: 1, max: 6 }),
        baseDelay: FastCheck.integer({ min: 0, max: 100 }),
        factor: FastCheck.double({ min: 1, max: 3, noNaN: true }),
        jitter: FastCheck.boolean()
      }),
      FastCheck.array(arbitraryStep, { minLength: 1, maxLength: 8 })
    ],
    ([policy, steps]) =>
      Effect.gen(function*() {
        // A final reply keeps the script from running out before maxAttempts.
        const script = [...steps, { kind: "reply", pieces: ["end"], breaks: false } as const]
        const turns = script.map(toTurn)
        const { chunks, exit, times } = yield* run(turns, { ...policy, maxDelay: 500 })

        const stop = script.findIndex((step) => step.kind !== "transient")
        const calls = Math.min(policy.maxAttempts, stop + 1)
        expect(times).toHaveLength(calls)
        for (let i = 1; i < calls; i++) {
          const previous = script[i - 1]!
          const hint = previous.kind === "transient" ? previous.retryAfter ?? 0 : 0
          // Not `times[i] - times[i - 1] >= hint`: the clock's times are fractional (a backoff of 8 * 1.398...),
          // and the difference of two of them can fall an ulp short of the wait between them (64.18443... -
          // 19.18443... = 44.99999999999999 for a wait of exactly 45). The sum is exact: the clock computed the
          // same sum, and rounding is monotonic.
          expect(times[i]!).toBeGreaterThanOrEqual(times[i - 1]! + hint)
        }

        const last = script[calls - 1]!
        const lastTurn = turns[calls - 1]!
        if (last.kind === "reply") {
          // every chunk of the reply that was opened, in order, exactly once
          expect(texts(chunks)).toEqual(last.pieces)
          expect(exit).toStrictEqual(last.breaks ? Exit.fail((lastTurn as ReadonlyArray<unknown>).at(-1)) : Exit.void)
        } else {
          expect(chunks).toEqual([])
          expect(exit).toStrictEqual(Exit.fail(lastTurn))
        }
      }),
    {
      fastCheck: {
        // Found once in ~1,700 runs (a CI run once failed here): a hint of 45 after two fractional backoffs.
        examples: [[{ maxAttempts: 4, baseDelay: 8, factor: 1.3980549375, jitter: false }, [
          { kind: "transient", retryAfter: undefined },
          { kind: "transient", retryAfter: undefined },
          { kind: "transient", retryAfter: 45 },
          { kind: "permanent" }
        ]]]
      }
    }
  )

  it.effect("a timeout it makes names the provider, not the operation", () =>
    Effect.gen(function*() {
      const slow: CompletionModel.Service = {
        name: "anthropic",
        model: "m",
        chatStream: () => Effect.never
      }
      const fiber = yield* Effect.fork(
        Effect.flip(RetryingModel.make(slow, { maxAttempts: 1, timeout: "1 second" }).chatStream({ messages: [] }))
      )
      yield* TestClock.adjust("1 second")
      const error = yield* Fiber.join(fiber)
      expect(error._tag).toBe("TimeoutError")
      expect(error.provider).toBe("anthropic")
    }))
})
