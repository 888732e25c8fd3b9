import { assert, describe, it } from "@effect/vitest"
import { RetryingLanguageModel } from "effect-retry-layer"
import * as AiError from "effect/ai/AiError"
import * as LanguageModel from "effect/ai/LanguageModel"
import type * as Response from "effect/ai/Response"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as References from "effect/References"
import * as Stream from "effect/Stream"
import { TestClock } from "effect/testing"

const usage = { inputTokens: { total: 3 }, outputTokens: { total: 2 } }
const answer: Array<Response.PartEncoded> = [
  { type: "text", text: "hello" },
  { type: "finish", reason: "stop", usage }
]
const streamed: Array<Response.StreamPartEncoded> = [
  { type: "response-metadata" } as Response.StreamPartEncoded,
  { type: "text-start", id: "t" },
  { type: "text-delta", id: "t", delta: "hel" },
  { type: "text-delta", id: "t", delta: "lo" },
  { type: "text-end", id: "t" },
  { type: "finish", reason: "stop", usage }
]

const aiError = (reason: AiError.AiErrorReason) => AiError.make({ module: "Scripted", method: "generateText", reason })
const rateLimited = (retryAfter?: Duration.Duration, headers: Record<string, string> = {}) =>
  aiError(
    new AiError.RateLimitError({
      ...(retryAfter === undefined ? {} : { retryAfter }),
      http: { response: { status: 429, headers } }
    })
  )
const overloaded = aiError(
  new AiError.InternalProviderError({
    description: "Overloaded",
    http: {
      response: { status: 529, headers: {} },
      body: "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\"}}"
    }
  })
)
const quota = aiError(new AiError.QuotaExhaustedError({ http: { response: { status: 429, headers: {} } } }))
const network = (reason: "TransportError" | "EncodeError") =>
  aiError(new AiError.NetworkError({ reason, method: "POST", url: "http://127.0.0.1/v1/messages" }))
const output = aiError(new AiError.InvalidOutputError({ description: "not the schema" }))

/**
 * A provider that answers each call with its script's next entry (an error, or the answer) and records the
 * virtual time of each request; streams may fail after some parts.
 */
const scripted = (
  script: ReadonlyArray<
    AiError.AiError | "ok" | "hang" | { readonly parts: number; readonly then: AiError.AiError | "error-part" }
  >
) => {
  const requests: Array<number> = []
  // Each response stream's release (the socket it would hold), counted.
  const released = { count: 0 }
  const next = Effect.suspend(() => {
    const entry = script[requests.length] ?? "ok"
    return Effect.as(
      Effect.flatMap(
        Effect.clockWith((clock) => Effect.sync(() => clock.currentTimeMillisUnsafe())),
        (now) => Effect.sync(() => requests.push(now))
      ),
      entry
    )
  })
  const model = LanguageModel.make({
    generateText: () =>
      Effect.flatMap(
        next,
        (entry) =>
          entry === "ok"
            ? Effect.succeed(answer)
            : entry === "hang"
            ? Effect.never
            : typeof entry === "object" && "reason" in entry
            ? Effect.fail(entry)
            : Effect.die("not a text entry")
      ),
    streamText: () =>
      Stream.unwrap(Effect.map(next, (entry) => {
        if (entry === "ok") return Stream.fromIterable(streamed)
        if (entry === "hang") return Stream.never
        if ("reason" in entry) return Stream.fail(entry)
        const head = Stream.fromIterable(streamed.slice(0, entry.parts))
        return entry.then === "error-part"
          ? Stream.concat(
            head,
            Stream.make(
              {
                type: "error",
                error: { type: "overloaded_error", message: "Overloaded" }
              } as Response.StreamPartEncoded
            )
          )
          : Stream.concat(head, Stream.fail(entry.then))
      })).pipe(Stream.ensuring(Effect.sync(() => released.count++)))
  })
  return { requests, released, layer: Layer.effect(LanguageModel.LanguageModel, model) }
}

/** The error a call failed with (its cause also records the spans it went through). */
const failure = <A, E>(exit: Exit.Exit<A, E>): E | undefined =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.findErrorOption(exit.cause)) : undefined

/** Runs `effect` forked and moves the test clock on until it ends. */
const settle = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(effect)
    for (let i = 0; i < 120 && fiber.pollUnsafe() === undefined; i++) yield* TestClock.adjust("1 second")
    return yield* Fiber.await(fiber)
  })

const text = (
  script: Parameters<typeof scripted>[0],
  policy: Parameters<typeof RetryingLanguageModel.layer>[0] = {}
) => {
  const provider = scripted(script)
  const program = LanguageModel.generateText({ prompt: "Hi" }).pipe(
    Effect.map((response) => response.text),
    Effect.provide(RetryingLanguageModel.layer(policy).pipe(Layer.provide(provider.layer)))
  )
  return Effect.map(settle(program), (exit) => ({ exit, requests: provider.requests }))
}

const stream = (script: Parameters<typeof scripted>[0], options: RetryingLanguageModel.Options = {}) => {
  const provider = scripted(script)
  const program = LanguageModel.streamText({ prompt: "Hi" }).pipe(
    Stream.runCollect,
    Effect.map((parts) => Array.from(parts, (part) => part.type === "text-delta" ? part.delta : part.type)),
    Effect.provide(RetryingLanguageModel.layer({}, options).pipe(Layer.provide(provider.layer)))
  )
  return Effect.map(settle(program), (exit) => ({ exit, requests: provider.requests }))
}

describe("RetryingLanguageModel (Effect 4)", () => {
  it.effect("retries a 429 after its retry-after-ms header, the hint a floor under the backoff", () =>
    Effect.gen(function*() {
      const { exit, requests } = yield* text([rateLimited(undefined, { "retry-after-ms": "4000" }), "ok"], {
        jitter: "none"
      })
      assert.deepStrictEqual(exit, Exit.succeed("hello"))
      assert.deepStrictEqual(requests, [0, 4_000])
    }))

  it.effect("a RateLimitError's own retryAfter is a floor too, and a 529 overloaded is retried", () =>
    Effect.gen(function*() {
      const { exit, requests } = yield* text([rateLimited(Duration.seconds(7)), overloaded, "ok"], { jitter: "none" })
      assert.deepStrictEqual(exit, Exit.succeed("hello"))
      // 7 s (the reason's hint over the 1 s backoff), then the 2 s backoff.
      assert.deepStrictEqual(requests, [0, 7_000, 9_000])
    }))

  it.effect("respects isRetryable: a QuotaExhaustedError (a 429) is not retried, nor is an answer that did not parse", () =>
    Effect.gen(function*() {
      const exhausted = yield* text([quota])
      assert.strictEqual(failure(exhausted.exit), quota)
      assert.strictEqual(exhausted.requests.length, 1)
      const unparsed = yield* text([output])
      assert.strictEqual(failure(unparsed.exit), output)
      assert.strictEqual(unparsed.requests.length, 1)
    }))

  it.effect("a dropped connection is retried; a request that could not be encoded is not", () =>
    Effect.gen(function*() {
      const dropped = yield* text([network("TransportError"), "ok"])
      assert.deepStrictEqual(dropped.exit, Exit.succeed("hello"))
      assert.strictEqual(dropped.requests.length, 2)
      const encode = network("EncodeError")
      const unencodable = yield* text([encode, "ok"])
      assert.strictEqual(failure(unencodable.exit), encode)
      assert.strictEqual(unencodable.requests.length, 1)
    }))

  it.effect("gives the original error back after the last attempt", () =>
    Effect.gen(function*() {
      const { exit, requests } = yield* text([overloaded, overloaded, overloaded, "ok"], { maxAttempts: 3 })
      assert.strictEqual(failure(exit), overloaded)
      assert.strictEqual(requests.length, 3)
    }))

  it.effect("a stream that fails before its first content part is retried; the caller sees one clean answer", () =>
    Effect.gen(function*() {
      const { exit, requests } = yield* stream([{ parts: 2, then: overloaded }, "ok"])
      assert.deepStrictEqual(exit, Exit.succeed(["response-metadata", "text-start", "hel", "lo", "text-end", "finish"]))
      assert.strictEqual(requests.length, 2)
    }))

  it.effect("every response stream is released: the attempt given up, and the answer a caller stops reading", () =>
    Effect.gen(function*() {
      const provider = scripted([{ parts: 2, then: overloaded }, "ok"])
      const program = LanguageModel.streamText({ prompt: "Hi" }).pipe(
        Stream.take(3),
        Stream.runCollect,
        Effect.provide(RetryingLanguageModel.layer().pipe(Layer.provide(provider.layer)))
      )
      const exit = yield* settle(program)
      assert.isTrue(Exit.isSuccess(exit))
      assert.strictEqual(provider.requests.length, 2)
      assert.strictEqual(provider.released.count, 2)
    }))

  it.effect("an error part before the first content part is retried like a failed request", () =>
    Effect.gen(function*() {
      const { exit, requests } = yield* stream([{ parts: 1, then: "error-part" }, "ok"])
      assert.deepStrictEqual(exit, Exit.succeed(["response-metadata", "text-start", "hel", "lo", "text-end", "finish"]))
      assert.strictEqual(requests.length, 2)
    }))

  it.effect("a stream broken after its first content part is not replayed", () =>
    Effect.gen(function*() {
      const { exit, requests } = yield* stream([{ parts: 3, then: overloaded }, "ok"])
      assert.strictEqual(failure(exit), overloaded)
      assert.strictEqual(requests.length, 1)
    }))

  it.effect("logs each retry as the Effect 3 line does: the failure's tag, status, hint and message, the wait", () =>
    Effect.gen(function*() {
      const logs: Array<{ level: string; message: string; annotations: Record<string, unknown> }> = []
      const capture = Logger.make(({ fiber, logLevel, message }) => {
        logs.push({
          level: logLevel,
          message: Array.isArray(message) ? message.join(" ") : String(message),
          annotations: { ...fiber.getRef(References.CurrentLogAnnotations) }
        })
      })
      const { exit } = yield* text([rateLimited(undefined, { "retry-after-ms": "4000" }), "ok"], { jitter: "none" })
        .pipe(
          Effect.provide(Logger.layer([capture]))
        )
      assert.deepStrictEqual(exit, Exit.succeed("hello"))
      assert.deepStrictEqual(logs.map((log) => log.level), ["Warn"])
      assert.strictEqual(
        logs[0]!.message,
        "languageModel: attempt 1 of 3 failed with RateLimitError (status 429): Scripted " +
          "responded 429: no body; retrying in 4000 ms, as the server asked"
      )
      assert.deepStrictEqual(logs[0]!.annotations, {
        attempt: 1,
        delayMillis: 4000,
        error: "RateLimitError",
        status: 429
      })
    }))

  it.effect("an attempt that hangs is cut off by timeout and retried; a wait past maxElapsed is not started", () =>
    Effect.gen(function*() {
      const hung = yield* text(["hang", "ok"], { timeout: "2 seconds", jitter: "none" })
      assert.deepStrictEqual(hung.exit, Exit.succeed("hello"))
      // Cut off at 2 s, then the 1 s backoff.
      assert.deepStrictEqual(hung.requests, [0, 3_000])
      const late = yield* text([overloaded, overloaded, "ok"], { maxElapsed: "2500 millis", jitter: "none" })
      // Retry 1 at 1 s; retry 2 would start at 3 s, past the deadline: the last error comes back at once.
      assert.strictEqual(failure(late.exit), overloaded)
      assert.deepStrictEqual(late.requests.map((at) => at - late.requests[0]!), [0, 1_000])
    }))

  it.effect("a timeout on the last attempt is an AiError that says so", () =>
    Effect.gen(function*() {
      const { exit, requests } = yield* text(["hang", "hang"], { timeout: "2 seconds", maxAttempts: 2 })
      const error = failure(exit)
      assert.strictEqual(requests.length, 2)
      assert.isTrue(AiError.isAiError(error) && error.reason._tag === "UnknownError")
      assert.match(
        String((error as AiError.AiError).reason.message),
        /TimeoutError: languageModel: attempt 2 timed out after 2000 ms/
      )
    }))

  it.effect("interrupted while it waits to retry, it sends no further request", () =>
    Effect.gen(function*() {
      const provider = scripted([rateLimited(Duration.seconds(30)), "ok"])
      const fiber = yield* Effect.forkChild(
        LanguageModel.generateText({ prompt: "Hi" }).pipe(
          Effect.provide(RetryingLanguageModel.layer().pipe(Layer.provide(provider.layer)))
        )
      )
      yield* TestClock.adjust("10 seconds")
      yield* Fiber.interrupt(fiber)
      yield* TestClock.adjust("1 minute")
      assert.deepStrictEqual(provider.requests, [0])
    }))
})
