// A test of your own code's retries in virtual time: @effect/vitest's it.effect provides the TestClock, and a
// scripted model stands in for the provider (run by this repository's `npm test`).
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Stream, TestClock } from "effect"
import { CompletionModel, RetryingModel } from "effect-retry-layer"
import { ScriptedModel } from "effect-retry-layer/testing"

// The code under test: asks the model in context, returns the text.
const ask = (question: string) =>
  Effect.flatMap(CompletionModel.CompletionModel, (model) =>
    Effect.flatMap(
      model.chatStream({ messages: [{ role: "user", content: question }] }),
      (stream) => Stream.runFold(stream, "", (text, chunk) => chunk._tag === "TextDelta" ? text + chunk.text : text)
    ))

// Production decorates an adapter; the test decorates a script of what the provider answers.
const Model = (script: ReadonlyArray<ScriptedModel.Turn>) =>
  RetryingModel.layer({ maxAttempts: 3 }).pipe(Layer.provideMerge(ScriptedModel.layer(script)))

const calls = Effect.flatMap(ScriptedModel.ScriptedModel, (recorder) => recorder.count)

describe("ask", () => {
  it.effect("waits out a 429's Retry-After (a floor), then answers", () =>
    Effect.gen(function*() {
      const answer = yield* Effect.fork(ask("Hi"))
      yield* TestClock.adjust("1999 millis")
      expect(yield* calls).toBe(1)
      yield* TestClock.adjust("201 millis") // the 2 s hint plus at most 10% jitter
      expect(yield* Fiber.join(answer)).toBe("Hello")
      expect(yield* calls).toBe(2)
    }).pipe(
      Effect.provide(Model([ScriptedModel.rateLimited({ retryAfter: "2 seconds" }), ScriptedModel.reply("Hello")]))
    ))

  it.effect("never retries a request the provider refused (400)", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(ask("Hi"))
      expect(Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error._tag : undefined)
        .toBe("InvalidRequestError")
      expect(yield* calls).toBe(1)
    }).pipe(Effect.provide(Model([ScriptedModel.invalidRequest()]))))
})
