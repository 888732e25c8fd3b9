import * as AiError from "@effect/ai/AiError"
import * as LanguageModel from "@effect/ai/LanguageModel"
import { describe, expect, it } from "@effect/vitest"
import { ScriptedLanguageModel as Scripted } from "effect-retry-layer/testing/ai"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"

describe("ScriptedLanguageModel", () => {
  it.effect("plays one turn per call and records each call's method, prompt and Clock time", () =>
    Effect.gen(function*() {
      const [model, recorder] = yield* Scripted.make([Scripted.reply("a", "b"), Scripted.reply("c")])
      const streamed = yield* Stream.runCollect(model.streamText({ prompt: "first" }))
      expect(Chunk.toReadonlyArray(streamed).map((p) => p.type)).toEqual([
        "response-metadata",
        "text-start",
        "text-delta",
        "text-delta",
        "text-end",
        "finish"
      ])
      yield* TestClock.adjust("5 seconds")
      const generated = yield* model.generateText({ prompt: "second" })
      expect(generated.text).toBe("c")
      expect(generated.finishReason).toBe("stop")
      const calls = yield* recorder.calls
      expect(calls.map((call) => [call.method, call.at])).toEqual([["streamText", 0], ["generateText", 5000]])
      expect(JSON.stringify(calls[1]!.prompt)).toContain("second")
    }))

  it.effect("an AiError turn fails the call; an AiError among parts fails the stream where it stands", () =>
    Effect.gen(function*() {
      const [model] = yield* Scripted.make([
        Scripted.rateLimited({ retryAfter: "2 seconds" }),
        [...Scripted.text("partial"), Scripted.connectionLost()]
      ])
      const first = yield* Effect.flip(model.generateText({ prompt: "hi" }))
      expect((first as AiError.HttpResponseError).response).toMatchObject({
        status: 429,
        headers: { "retry-after-ms": "2000" }
      })
      const seen: Array<string> = []
      const second = yield* Effect.flip(
        Stream.runForEach(model.streamText({ prompt: "hi" }), (p) => Effect.sync(() => seen.push(p.type)))
      )
      expect(seen).toEqual(["text-start", "text-delta", "text-end"])
      expect(second).toBeInstanceOf(AiError.HttpRequestError)
    }))

  it.effect("a call past the end of the script, or an error part for generateText, is a defect that says so", () =>
    Effect.gen(function*() {
      const [model] = yield* Scripted.make([[Scripted.errorPart("overloaded_error")]])
      const misuse = yield* Effect.exit(model.generateText({ prompt: "hi" }))
      expect(Exit.isFailure(misuse) && Cause.isDie(misuse.cause)).toBe(true)
      expect(String(Exit.isFailure(misuse) && Cause.squash(misuse.cause))).toMatch(/only in a stream/)
      const past = yield* Effect.exit(model.generateText({ prompt: "hi" }))
      expect(String(Exit.isFailure(past) && Cause.squash(past.cause))).toMatch(/call 2 but the script has only 1/)
    }))

  it.effect("layer provides the LanguageModel and its recorder", () =>
    Effect.gen(function*() {
      const response = yield* LanguageModel.generateText({ prompt: "hi" })
      expect(response.text).toBe("ok")
      expect(yield* Effect.flatMap(Scripted.ScriptedLanguageModel, (r) => r.count)).toBe(1)
    }).pipe(Effect.provide(Scripted.layer([Scripted.reply("ok")]))))
})
