import { describe, expect, it } from "@effect/vitest"
import { CompletionModel, Retryable } from "effect-retry-layer"
import { ScriptedModel } from "effect-retry-layer/testing"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"

const ask = (content: string) =>
  Effect.flatMap(
    CompletionModel.CompletionModel,
    (model) => model.chatStream({ messages: [{ role: "user", content }] })
  )

describe("ScriptedModel", () => {
  it.effect("plays its turns in order and records each call with its request and time", () =>
    Effect.gen(function*() {
      const first = yield* Effect.flip(ask("one"))
      expect(first._tag).toBe("ServerError")
      yield* TestClock.adjust("25 millis")
      const stream = yield* ask("two")
      const chunks = Chunk.toReadonlyArray(yield* Stream.runCollect(stream))
      expect(chunks).toStrictEqual([
        CompletionModel.StreamChunk.TextDelta({ text: "a" }),
        CompletionModel.StreamChunk.TextDelta({ text: "b" }),
        CompletionModel.StreamChunk.TurnFinished({ reason: "stop", usage: { inputTokens: 0, outputTokens: 2 } })
      ])
      const recorder = yield* ScriptedModel.ScriptedModel
      const calls = yield* recorder.calls
      expect(calls.map((c) => [c.request.messages[0]?.content, c.at])).toEqual([["one", 0], ["two", 25]])
      expect(yield* recorder.count).toBe(2)
    }).pipe(Effect.provide(ScriptedModel.layer([ScriptedModel.serverError(), ScriptedModel.reply("a", "b")]))))

  it.effect("a turn with an error fails the stream after the chunks before it", () =>
    Effect.gen(function*() {
      const stream = yield* ask("x")
      const exit = yield* Stream.runCollect(stream).pipe(Effect.exit)
      expect(Exit.isFailure(exit) && Option.getOrThrow(Cause.failureOption(exit.cause))._tag).toBe("OverloadedError")
      const partial = yield* Stream.runCollect(Stream.catchAll(stream, () => Stream.empty))
      expect(Chunk.toReadonlyArray(partial)).toStrictEqual([CompletionModel.StreamChunk.TextDelta({ text: "a" })])
    }).pipe(Effect.provide(ScriptedModel.layer([[
      CompletionModel.StreamChunk.TextDelta({ text: "a" }),
      ScriptedModel.overloaded(),
      CompletionModel.StreamChunk.TextDelta({ text: "never" })
    ]]))))

  it.effect("a call past the end of the script is a defect that says so", () =>
    Effect.gen(function*() {
      yield* ask("one")
      const exit = yield* Effect.exit(ask("two"))
      expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
      expect(Exit.isFailure(exit) && Cause.pretty(exit.cause)).toContain("call 2 but the script has only 1 turn(s)")
    }).pipe(Effect.provide(ScriptedModel.layer([ScriptedModel.reply("x")]))))

  it("scripted errors classify themselves as documented", () => {
    expect(Retryable.classify(ScriptedModel.serverError())).toStrictEqual(Retryable.transient())
    expect(Retryable.classify(ScriptedModel.serverError({ retryAfter: "50 millis" }))).toStrictEqual(
      Retryable.transient(Duration.millis(50))
    )
    expect(ScriptedModel.rateLimited().status).toBe(429)
    expect(ScriptedModel.overloaded().status).toBe(529)
    expect(Retryable.isTransient(ScriptedModel.overloaded())).toBe(true)
    expect(Retryable.classify(ScriptedModel.invalidRequest())).toStrictEqual(Retryable.permanent)
  })
})
