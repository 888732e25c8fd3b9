import { describe, expect, it } from "@effect/vitest"
import { CompletionModel, Policy } from "effect-retry-layer"
import { ScriptedModel } from "effect-retry-layer/testing"
import * as Effect from "effect/Effect"
import { pipe } from "effect/Function"
import * as Stream from "effect/Stream"

const request: CompletionModel.ChatRequest = { messages: [{ role: "user", content: "Hi" }], maxTokens: 7 }

/** A policy that records, in `log`, its name around each attempt, the attempt's size and its settlement. */
const recording = (name: string, log: Array<string>): Policy.Policy => ({
  settles: true,
  applyCall: (call) =>
    Effect.sync(() => log.push(`${name} in ${call.size?.chars}/${call.size?.maxTokens}`)).pipe(
      Effect.zipRight(call.run((usage) => Effect.sync(() => log.push(`${name} settled ${usage?.outputTokens}`)))),
      Effect.tap(() => Effect.sync(() => log.push(`${name} out`)))
    )
})

describe("Policy", () => {
  it.effect("compose: the first outermost; every policy that settles hears the turn's usage", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const [inner] = yield* ScriptedModel.make([ScriptedModel.reply("ok")])
      const model = Policy.decorate(inner, Policy.compose(recording("a", log), recording("b", log)))
      yield* Stream.runDrain(yield* model.chatStream(request))
      // the turn's usage first; the give-back at the stream's end after it counts for nothing (first one counts)
      expect(log).toEqual([
        "a in 2/7",
        "b in 2/7",
        "b out",
        "a out",
        "a settled 1",
        "b settled 1",
        "a settled undefined",
        "b settled undefined"
      ])
    }))

  it.effect("decorate and mapAcquisition read the same data-first and piped", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const [inner] = yield* ScriptedModel.make([ScriptedModel.reply("ok"), ScriptedModel.reply("ok")])
      const counted = (self: CompletionModel.Service) =>
        CompletionModel.mapAcquisition(
          self,
          (acquire) => Effect.zipLeft(acquire, Effect.sync(() => log.push("mapped")))
        )
      const first = counted(Policy.decorate(inner, recording("p", log)))
      const piped = pipe(
        inner,
        Policy.decorate(recording("p", log)),
        CompletionModel.mapAcquisition((acquire) => Effect.zipLeft(acquire, Effect.sync(() => log.push("mapped"))))
      )
      for (const model of [first, piped]) yield* Stream.runDrain(yield* model.chatStream(request))
      expect(log.filter((line) => line === "mapped")).toHaveLength(2)
      expect(log.filter((line) => line.startsWith("p in"))).toHaveLength(2)
    }))
})
