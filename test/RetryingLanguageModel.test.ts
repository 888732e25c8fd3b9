import * as AiError from "@effect/ai/AiError"
import * as LanguageModel from "@effect/ai/LanguageModel"
import type * as Response from "@effect/ai/Response"
import { describe, expect, it } from "@effect/vitest"
import { RetryingLanguageModel } from "effect-retry-layer/ai"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"

const request = {
  method: "POST",
  url: "http://x/v1/messages",
  urlParams: [],
  hash: Option.none(),
  headers: {}
} as const

const status = (code: number, headers: Record<string, string> = {}, body?: string) =>
  new AiError.HttpResponseError({
    module: "Anthropic",
    method: "createMessage",
    reason: "StatusCode",
    request,
    response: { status: code, headers },
    ...(body === undefined ? {} : { body })
  })

type Turn = AiError.AiError | ReadonlyArray<Response.StreamPartEncoded | AiError.AiError>

const metadata: Response.StreamPartEncoded = {
  type: "response-metadata",
  id: "msg_1",
  modelId: "m",
  timestamp: undefined
} as never
const textStart: Response.StreamPartEncoded = { type: "text-start", id: "t" }
const text = (delta: string): Response.StreamPartEncoded => ({ type: "text-delta", id: "t", delta })
const finish: Response.StreamPartEncoded = {
  type: "finish",
  reason: "stop",
  usage: { inputTokens: 1, outputTokens: 1, totalTokens: 2 }
} as never
const overloaded: Response.StreamPartEncoded = {
  type: "error",
  error: { type: "overloaded_error", message: "Overloaded" }
}

/** A LanguageModel that plays one turn per call and counts the calls. */
const scripted = (turns: ReadonlyArray<Turn>) =>
  Effect.gen(function*() {
    let calls = 0
    const next = () => turns[calls++] ?? []
    const model = yield* LanguageModel.make({
      generateText: () =>
        Effect.suspend(() => {
          const turn = next()
          return turn instanceof AiError.HttpResponseError || turn instanceof AiError.HttpRequestError
            ? Effect.fail(turn)
            : Effect.succeed(
              (turn as ReadonlyArray<Response.PartEncoded>).filter((p) => p.type === "text") as Array<
                Response.PartEncoded
              >
            )
        }),
      streamText: () =>
        Stream.suspend(() => {
          const turn = next()
          if (!Array.isArray(turn)) return Stream.fail(turn as AiError.AiError)
          return Stream.fromIterable(turn).pipe(
            Stream.mapEffect((part) =>
              Predicate(part)
                ? Effect.fail(part as AiError.AiError)
                : Effect.succeed(part as Response.StreamPartEncoded)
            )
          )
        })
    })
    return { model, calls: () => calls }
  })

const Predicate = (u: unknown): boolean => typeof u === "object" && u !== null && AiError.TypeId in u

const collect = (model: LanguageModel.Service) =>
  Effect.map(Stream.runCollect(model.streamText({ prompt: "hi" })), Chunk.toReadonlyArray)

const types = (parts: ReadonlyArray<Response.AnyPart>) =>
  parts.map((p) => p.type === "text-delta" ? `text:${p.delta}` : p.type)

describe("RetryingLanguageModel.streamText", () => {
  it.effect("429 (retry-after-ms) -> 529 -> a 200 whose first event is overloaded_error -> the answer: 4 calls, hints kept", () =>
    Effect.gen(function*() {
      const { calls, model } = yield* scripted([
        status(429, { "retry-after-ms": "1500" }),
        status(529),
        [metadata, overloaded],
        [metadata, textStart, text("Hello"), text("!"), finish]
      ])
      const retrying = RetryingLanguageModel.make(model, { maxAttempts: 4, baseDelay: "100 millis", jitter: false })
      const fiber = yield* Effect.fork(collect(retrying))
      yield* TestClock.adjust("1499 millis")
      expect(calls()).toBe(1)
      yield* TestClock.adjust("1 millis")
      expect(calls()).toBe(2)
      yield* TestClock.adjust("1 second")
      const parts = yield* Fiber.join(fiber)
      expect(calls()).toBe(4)
      expect(types(parts)).toEqual(["response-metadata", "text-start", "text:Hello", "text:!", "finish"])
    }))

  it.effect("text then overloaded_error: one call, the text then the error part, never replayed", () =>
    Effect.gen(function*() {
      const { calls, model } = yield* scripted([[metadata, textStart, text("one"), overloaded]])
      const parts = yield* collect(RetryingLanguageModel.make(model, { baseDelay: 0 }))
      expect(types(parts)).toEqual(["response-metadata", "text-start", "text:one", "error"])
      expect(calls()).toBe(1)
    }))

  it.effect("an error part retried until the attempts end reaches the caller as @effect/ai delivers it", () =>
    Effect.gen(function*() {
      const { calls, model } = yield* scripted([[metadata, overloaded], [metadata, overloaded]])
      const parts = yield* collect(RetryingLanguageModel.make(model, { maxAttempts: 2, baseDelay: 0 }))
      expect(types(parts)).toEqual(["response-metadata", "error"])
      expect(calls()).toBe(2)
    }))

  it.effect("400 and 503 with x-should-retry: false are one call and the original error", () =>
    Effect.gen(function*() {
      for (const error of [status(400), status(503, { "x-should-retry": "false" })]) {
        const { calls, model } = yield* scripted([error])
        const failure = yield* Effect.flip(collect(RetryingLanguageModel.make(model, { baseDelay: 0 })))
        // the original error (Effect may hand it back behind a span-carrying proxy, so compare what it says)
        expect(failure).toBeInstanceOf(AiError.HttpResponseError)
        expect((failure as AiError.HttpResponseError).response).toEqual(error.response)
        expect(calls()).toBe(1)
      }
    }))

  it.effect("a transport failure is retried; exhausted retries give back the original AiError", () =>
    Effect.gen(function*() {
      const transport = new AiError.HttpRequestError({ module: "Anthropic", method: "m", reason: "Transport", request })
      const { calls, model } = yield* scripted([transport, transport])
      const failure = yield* Effect.flip(collect(RetryingLanguageModel.make(model, { maxAttempts: 2, baseDelay: 0 })))
      expect(failure).toBeInstanceOf(AiError.HttpRequestError)
      expect((failure as AiError.HttpRequestError).reason).toBe("Transport")
      expect(calls()).toBe(2)
    }))
})

describe("interruption", () => {
  it.effect("interrupting a call during its wait makes no further request", () =>
    Effect.gen(function*() {
      const { calls, model } = yield* scripted([status(529), [metadata, textStart, text("late"), finish]])
      const fiber = yield* Effect.fork(
        collect(RetryingLanguageModel.make(model, { baseDelay: "1 second", jitter: false }))
      )
      yield* TestClock.adjust("500 millis")
      yield* Fiber.interrupt(fiber)
      yield* TestClock.adjust("1 hour")
      expect(calls()).toBe(1)
    }))
})

describe("RetryingLanguageModel.generateText", () => {
  it.effect("429 then the answer: 2 calls", () =>
    Effect.gen(function*() {
      const { calls, model } = yield* scripted([status(429), [{ type: "text", text: "ok" } as never]])
      const response = yield* RetryingLanguageModel.make(model, { baseDelay: 0 }).generateText({ prompt: "hi" })
      expect(response.text).toBe("ok")
      expect(calls()).toBe(2)
    }))

  it.effect("a per-attempt timeout is an AiError that says so, with the library's error as its cause", () =>
    Effect.gen(function*() {
      const never = yield* LanguageModel.make({ generateText: () => Effect.never, streamText: () => Stream.never })
      const fiber = yield* Effect.fork(Effect.flip(
        RetryingLanguageModel.make(never, { maxAttempts: 1, timeout: "1 second" }).generateText({ prompt: "hi" })
      ))
      yield* TestClock.adjust("1 second")
      const error = yield* Fiber.join(fiber)
      expect(error._tag).toBe("UnknownError")
      expect((error as AiError.UnknownError).description).toMatch(/^TimeoutError: /)
      expect(((error as AiError.UnknownError).cause as { _tag: string })._tag).toBe("TimeoutError")
    }))
})
