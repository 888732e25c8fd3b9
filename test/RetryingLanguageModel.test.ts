import * as AiError from "@effect/ai/AiError"
import * as LanguageModel from "@effect/ai/LanguageModel"
import type * as Response from "@effect/ai/Response"
import * as Tool from "@effect/ai/Tool"
import * as Toolkit from "@effect/ai/Toolkit"
import { describe, expect, it } from "@effect/vitest"
import {
  AdaptiveRateLimiter,
  CircuitBreaker,
  FleetStore,
  InvalidOptions,
  RateLimitHeaders,
  ResilientModel,
  RetryBudget
} from "effect-retry-layer"
import { ResilientLanguageModel, RetryingLanguageModel } from "effect-retry-layer/ai"
import { ScriptedLanguageModel as Scripted } from "effect-retry-layer/testing/ai"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { ledger } from "./support/ledger.js"
import { keys, leaked } from "./support/secrets.js"
import { failureOf } from "./support/thrown.js"

const collect = (model: LanguageModel.Service) =>
  Effect.map(Stream.runCollect(model.streamText({ prompt: "hi" })), Chunk.toReadonlyArray)

const types = (parts: ReadonlyArray<Response.AnyPart>) =>
  parts.map((p) => p.type === "text-delta" ? `text:${p.delta}` : p.type)

const GetWeather = Tool.make("get_weather", { parameters: { city: Schema.String }, success: Schema.String })
const Tools = Toolkit.make(GetWeather)
const ToolsLive = Tools.toLayer({ get_weather: () => Effect.succeed("sunny") })

const overloadedPart = Scripted.errorPart("overloaded_error", "Overloaded")

/** The times of the calls after the first, relative to it. */
const offsets = (recorder: Scripted.Recorder) =>
  Effect.map(recorder.calls, (calls) => calls.map((call) => call.at - calls[0]!.at))

// What building a layer over a scripted model (and a memory store) fails with, or undefined if it builds.
const built = <A, E>(layer: Layer.Layer<A, E, LanguageModel.LanguageModel | FleetStore.FleetStore>) =>
  failureOf(Layer.build(layer).pipe(Effect.provide(Layer.merge(Scripted.layer([]), FleetStore.layerMemory))))

describe("RetryingLanguageModel.streamText", () => {
  it.effect("429 (retry-after-ms) -> 529 -> a 200 whose first event is overloaded_error -> the answer: 4 calls, hints kept", () =>
    Effect.gen(function*() {
      const [model, recorder] = yield* Scripted.make([
        Scripted.rateLimited({ retryAfter: "1500 millis" }),
        Scripted.overloaded(),
        [Scripted.metadata, overloadedPart],
        Scripted.reply("Hello", "!")
      ])
      const retrying = RetryingLanguageModel.make(model, { maxAttempts: 4, baseDelay: "100 millis", jitter: false })
      const fiber = yield* Effect.fork(collect(retrying))
      yield* TestClock.adjust("1499 millis")
      expect(yield* recorder.count).toBe(1)
      yield* TestClock.adjust("1 millis")
      expect(yield* recorder.count).toBe(2)
      yield* TestClock.adjust("1 second")
      const parts = yield* Fiber.join(fiber)
      expect(yield* recorder.count).toBe(4)
      expect(yield* offsets(recorder)).toEqual([0, 1500, 1700, 2100])
      expect(types(parts)).toEqual(["response-metadata", "text-start", "text:Hello", "text:!", "text-end", "finish"])
    }))

  it.effect("text then overloaded_error: one call, the text then the error part, never replayed", () =>
    Effect.gen(function*() {
      const [model, recorder] = yield* Scripted.make([[Scripted.metadata, ...Scripted.text("one"), overloadedPart]])
      const parts = yield* collect(RetryingLanguageModel.make(model, { baseDelay: 0 }))
      expect(types(parts)).toEqual(["response-metadata", "text-start", "text:one", "text-end", "error"])
      expect(yield* recorder.count).toBe(1)
    }))

  it.effect("an error part retried until the attempts end reaches the caller as @effect/ai delivers it", () =>
    Effect.gen(function*() {
      const [model, recorder] = yield* Scripted.make([[Scripted.metadata, overloadedPart], [
        Scripted.metadata,
        overloadedPart
      ]])
      const parts = yield* collect(RetryingLanguageModel.make(model, { maxAttempts: 2, baseDelay: 0 }))
      expect(types(parts)).toEqual(["response-metadata", "error"])
      expect(yield* recorder.count).toBe(2)
    }))

  it.effect("errorPartBeforeContent: \"fail\" fails the stream instead, with no part, the error part as the cause", () =>
    Effect.gen(function*() {
      const [model, recorder] = yield* Scripted.make([[Scripted.metadata, overloadedPart], [overloadedPart]])
      const error = yield* Effect.flip(
        collect(RetryingLanguageModel.make(model, { maxAttempts: 2, baseDelay: 0 }, { errorPartBeforeContent: "fail" }))
      )
      expect(error._tag).toBe("UnknownError")
      expect((error as AiError.UnknownError).description).toMatch(/overloaded_error/)
      expect((error as AiError.UnknownError).cause).toMatchObject({
        type: "error",
        error: { type: "overloaded_error" }
      })
      expect(yield* recorder.count).toBe(2)
    }))

  it.effect("an error part of a type no provider table knows is not retried", () =>
    Effect.gen(function*() {
      const [model, recorder] = yield* Scripted.make([[Scripted.errorPart("made_up_error")]])
      const parts = yield* collect(RetryingLanguageModel.make(model, { baseDelay: 0 }))
      expect(types(parts)).toEqual(["error"])
      expect(yield* recorder.count).toBe(1)
    }))

  it.effect("400 and 503 with x-should-retry: false are one call and the original error", () =>
    Effect.gen(function*() {
      for (
        const error of [Scripted.invalidRequest(), Scripted.serverError({ headers: { "x-should-retry": "false" } })]
      ) {
        const [model, recorder] = yield* Scripted.make([error])
        const failure = yield* Effect.flip(collect(RetryingLanguageModel.make(model, { baseDelay: 0 })))
        // the original error (Effect may hand it back behind a span-carrying proxy, so compare what it says)
        expect(failure).toBeInstanceOf(AiError.HttpResponseError)
        expect((failure as AiError.HttpResponseError).response).toEqual(error.response)
        expect(yield* recorder.count).toBe(1)
      }
    }))

  it.effect("a transport failure is retried; exhausted retries give back the original AiError", () =>
    Effect.gen(function*() {
      const [model, recorder] = yield* Scripted.make([Scripted.connectionLost(), Scripted.connectionLost()])
      const failure = yield* Effect.flip(collect(RetryingLanguageModel.make(model, { maxAttempts: 2, baseDelay: 0 })))
      expect(failure).toBeInstanceOf(AiError.HttpRequestError)
      expect((failure as AiError.HttpRequestError).reason).toBe("Transport")
      expect(yield* recorder.count).toBe(2)
    }))

  it.effect("a tool-call turn after a 429 reaches the caller once, whole", () =>
    Effect.gen(function*() {
      const [model, recorder] = yield* Scripted.make([
        Scripted.rateLimited(),
        [
          Scripted.metadata,
          ...Scripted.toolCall("call_1", "get_weather", { city: "Paris" }),
          Scripted.finish("tool-calls")
        ]
      ])
      const parts = yield* Stream.runCollect(
        RetryingLanguageModel.make(model, { baseDelay: 0 }).streamText({
          prompt: "weather?",
          toolkit: Tools,
          disableToolCallResolution: true
        })
      ).pipe(Effect.provide(ToolsLive))
      expect(types(Chunk.toReadonlyArray(parts))).toEqual([
        "response-metadata",
        "tool-params-start",
        "tool-params-delta",
        "tool-params-end",
        "tool-call",
        "finish"
      ])
      expect(yield* recorder.count).toBe(2)
    }))

  it.effect("onRetry sees the original error and the error part", () =>
    Effect.gen(function*() {
      const seen: Array<unknown> = []
      const [model] = yield* Scripted.make([Scripted.overloaded(), [overloadedPart], Scripted.reply("ok")])
      yield* collect(RetryingLanguageModel.make(model, { baseDelay: 0 }, {
        onRetry: (step) => Effect.sync(() => seen.push(step.error))
      }))
      expect((seen[0] as AiError.HttpResponseError).response.status).toBe(529)
      expect(seen[1]).toMatchObject({ type: "error", error: { type: "overloaded_error" } })
    }))
})

describe("interruption", () => {
  it.effect("interrupting a call during its wait makes no further request", () =>
    Effect.gen(function*() {
      const [model, recorder] = yield* Scripted.make([Scripted.overloaded(), Scripted.reply("late")])
      const fiber = yield* Effect.fork(
        collect(RetryingLanguageModel.make(model, { baseDelay: "1 second", jitter: false }))
      )
      yield* TestClock.adjust("500 millis")
      yield* Fiber.interrupt(fiber)
      yield* TestClock.adjust("1 hour")
      expect(yield* recorder.count).toBe(1)
    }))
})

describe("RetryingLanguageModel.generateText", () => {
  it.effect("429 then the answer: 2 calls", () =>
    Effect.gen(function*() {
      const [model, recorder] = yield* Scripted.make([Scripted.rateLimited(), Scripted.reply("o", "k")])
      const response = yield* RetryingLanguageModel.make(model, { baseDelay: 0 }).generateText({ prompt: "hi" })
      expect(response.text).toBe("ok")
      expect(yield* recorder.count).toBe(2)
    }))

  it.effect("generateObject is retried whole, and decodes the answer that finally came", () =>
    Effect.gen(function*() {
      const [model, recorder] = yield* Scripted.make([
        Scripted.overloaded(),
        Scripted.reply("{\"city\":", "\"Paris\"}")
      ])
      const response = yield* RetryingLanguageModel.make(model, { baseDelay: 0 }).generateObject({
        prompt: "where?",
        schema: Schema.Struct({ city: Schema.String })
      })
      expect(response.value).toEqual({ city: "Paris" })
      expect(yield* recorder.count).toBe(2)
    }))

  it.effect("an HTTP-date Retry-After is read against the Clock", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.UTC(2026, 10, 25, 12, 0, 0))
      const [model, recorder] = yield* Scripted.make([
        Scripted.httpError(503, "api_error", { headers: { "retry-after": "Wed, 25 Nov 2026 12:00:07 GMT" } }),
        Scripted.reply("ok")
      ])
      const fiber = yield* Effect.fork(
        RetryingLanguageModel.make(model, { baseDelay: "1 second", jitter: false }).generateText({ prompt: "hi" })
      )
      yield* TestClock.adjust("6999 millis")
      expect(yield* recorder.count).toBe(1)
      yield* TestClock.adjust("1 millis")
      expect((yield* Fiber.join(fiber)).text).toBe("ok")
      expect(yield* recorder.count).toBe(2)
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

describe("RetryingLanguageModel.classify", () => {
  it("reads an AiError as the adapters read a response", () => {
    const now = Date.UTC(2026, 10, 25)
    expect(RetryingLanguageModel.classify(Scripted.rateLimited({ retryAfter: "2 seconds" }), now)).toEqual({
      _tag: "Transient",
      retryAfter: Option.some(Duration.seconds(2))
    })
    expect(RetryingLanguageModel.classify(Scripted.invalidRequest(), now)._tag).toBe("Permanent")
    expect(RetryingLanguageModel.classify(Scripted.httpError(404, "not_found_error"), now)._tag).toBe("Permanent")
    expect(RetryingLanguageModel.classify(Scripted.httpError(401, "authentication_error"), now)._tag).toBe("Permanent")
    expect(RetryingLanguageModel.classify(Scripted.connectionLost(), now)._tag).toBe("Transient")
    expect(RetryingLanguageModel.classify(new Error("not an AiError"), now)._tag).toBe("Permanent")
    // a gateway's HTML 502 read by generateText is a "Decode" error with the real status: the status decides
    const gateway = new AiError.HttpResponseError({
      ...Scripted.httpError(502, "x"),
      reason: "Decode",
      body: "<html>Bad gateway</html>"
    })
    expect(RetryingLanguageModel.classify(gateway, now)._tag).toBe("Transient")
  })
})

describe("the fleet pieces", () => {
  it.effect("the limiter slows down for an in-band overloaded_error, as for the adapters' OverloadedError", () =>
    Effect.gen(function*() {
      const limiter = yield* AdaptiveRateLimiter.make({ key: "ai", initialRate: 100 })
      const [model] = yield* Scripted.make([[overloadedPart], Scripted.reply("ok")])
      const fiber = yield* Effect.fork(collect(RetryingLanguageModel.make(model, { baseDelay: 0 }, { limiter })))
      yield* TestClock.adjust("1 minute")
      yield* Fiber.join(fiber)
      expect((yield* limiter.state).mode).toBe("cubic")
    }).pipe(Effect.scoped, Effect.provide(FleetStore.layerMemory)))

  it.effect("a process's first call, sent before the limits were known, is settled to its usage (streamText, generateText)", () =>
    Effect.gen(function*() {
      const state: RateLimitHeaders.RateLimitState = {
        requests: { limit: 1_000, remaining: 1_000 },
        outputTokens: { limit: 60, remaining: 60 }
      }
      // the scripted finish part uses one token each way
      const expected = AdaptiveRateLimiter.used({ inputTokens: 1, outputTokens: 1 })
      for (const method of ["streamText", "generateText"] as const) {
        const { net, store } = ledger()
        const limiter = yield* AdaptiveRateLimiter.make({ key: method }).pipe(
          Effect.provideService(FleetStore.FleetStore, store)
        )
        const [scripted] = yield* Scripted.make([Scripted.reply("ok")])
        const reporting: LanguageModel.Service = {
          ...scripted,
          streamText: ((options: Parameters<LanguageModel.Service["streamText"]>[0]) =>
            Stream.unwrap(
              Effect.as(RateLimitHeaders.report(state), scripted.streamText(options))
            )) as LanguageModel.Service["streamText"],
          generateText: ((options: Parameters<LanguageModel.Service["generateText"]>[0]) =>
            Effect.zipRight(
              RateLimitHeaders.report(state),
              scripted.generateText(options)
            )) as LanguageModel.Service["generateText"]
        }
        const model = RetryingLanguageModel.make(reporting, {}, { limiter })
        if (method === "streamText") yield* collect(model)
        else yield* model.generateText({ prompt: "hi" })
        expect(net).toEqual(expected)
      }
    }).pipe(Effect.scoped))

  const lines: Array<string> = []
  const capture = Logger.replace(
    Logger.defaultLogger,
    Logger.make(({ message }) => lines.push(Array.isArray(message) ? message.join(" ") : String(message)))
  )

  it.effect("a key echoed in a response reaches no log line and no error of the layer, held or not", () =>
    Effect.gen(function*() {
      // a key the layer does not hold (the @effect/ai client was given it), and one passed as `secrets`
      const own = "corp-gateway-token-0123456789abcdef"
      for (const [key, options] of [[keys.anthropic, {}], [own, { secrets: [Redacted.make(own)] }]] as const) {
        lines.length = 0
        const echo = { message: `invalid use of key ${key}` }
        const [retried] = yield* Scripted.make([Scripted.overloaded(echo), Scripted.overloaded(echo)])
        yield* Effect.flip(
          RetryingLanguageModel.make(retried, { maxAttempts: 2, baseDelay: 0 }, options).generateText({ prompt: "hi" })
        )
        expect(lines.some((line) => line.includes("OverloadedError"))).toBe(true)
        expect(lines.every((line) => leaked(line, key).length === 0)).toBe(true)
        // the budget's refusal, the layer's own error
        const budget = yield* RetryBudget.make({ key: `echo-${key.length}`, ratio: 0, minPerSecond: 0 })
        const [refused] = yield* Scripted.make([Scripted.serverError(echo)])
        const error = yield* Effect.flip(
          RetryingLanguageModel.make(refused, { baseDelay: 0 }, { ...options, budget }).generateText({ prompt: "hi" })
        )
        const description = (error as AiError.UnknownError).description ?? ""
        expect(description).toMatch(/^RetryBudgetExhaustedError: .*invalid use of key \[redacted\]/)
        expect(leaked(description, key)).toEqual([])
      }
    }).pipe(Effect.provide(capture), Effect.provide(FleetStore.layerMemory)))

  it.effect("the breaker counts 5xx attempts and opens; an open circuit is an AiError that says so", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ key: "ai", consecutiveFailures: 2, failureRate: false })
      const [model, recorder] = yield* Scripted.make([Scripted.serverError(), Scripted.serverError()])
      const error = yield* Effect.flip(
        RetryingLanguageModel.make(model, { maxAttempts: 3, baseDelay: 0 }, { breaker }).generateText({ prompt: "hi" })
      )
      expect(yield* recorder.count).toBe(2)
      expect((yield* breaker.state)._tag).toBe("Open")
      expect(error._tag).toBe("UnknownError")
      expect((error as AiError.UnknownError).description).toMatch(/^CircuitOpenError: /)
    }))

  it.effect("the budget charges a 5xx retry but not a throttled one", () =>
    Effect.gen(function*() {
      const budget = yield* RetryBudget.make({ key: "ai", ratio: 0, minPerSecond: 0 })
      const throttled = yield* Scripted.make([Scripted.rateLimited(), Scripted.reply("ok")])
      const answer = yield* RetryingLanguageModel.make(throttled[0], { baseDelay: 0 }, { budget }).generateText({
        prompt: "hi"
      })
      expect(answer.text).toBe("ok")
      const failing = yield* Scripted.make([Scripted.serverError()])
      const refused = yield* Effect.flip(
        RetryingLanguageModel.make(failing[0], { baseDelay: 0 }, { budget }).generateText({ prompt: "hi" })
      )
      expect((refused as AiError.UnknownError).description).toMatch(/^RetryBudgetExhaustedError: /)
      expect(yield* failing[1].count).toBe(1)
    }).pipe(Effect.provide(FleetStore.layerMemory)))

  it.effect("ResilientLanguageModel: the one-layer stack over the LanguageModel in context", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(Stream.runCollect(LanguageModel.streamText({ prompt: "hi" })))
      yield* TestClock.adjust("1 minute")
      const parts = Chunk.toReadonlyArray(yield* Fiber.join(fiber))
      expect(types(parts)).toEqual(["response-metadata", "text-start", "text:fine", "text-end", "finish"])
      expect(yield* Effect.flatMap(Scripted.ScriptedLanguageModel, (recorder) => recorder.count)).toBe(3)
      // its policies, beside the model: the circuit named after it, and the two overloads (529s: throttling) cut
      // the limiter's rate, not the breaker's count of failures
      const { breaker, budget, limiter } = yield* ResilientModel.Policies
      expect(breaker!.key).toBe("languageModel")
      expect(yield* breaker!.state).toMatchObject({ _tag: "Closed", failures: 0 })
      expect((yield* limiter!.state).mode).toBe("cubic")
      expect(budget).toBeDefined()
    }).pipe(
      Effect.provide(
        ResilientLanguageModel.layer({ retry: { maxAttempts: 4 } }).pipe(
          Layer.provideMerge(Scripted.layer([Scripted.overloaded(), [overloadedPart], Scripted.reply("fine")])),
          Layer.provide(FleetStore.layerMemory)
        )
      )
    ))

  it("refuses a misspelled or ill-typed option where the model is made, or when the layer is built", async () => {
    const [model] = Effect.runSync(Scripted.make([]))
    expect(() => RetryingLanguageModel.make(model, {}, { errorPartBeforeContent: "fial" } as never)).toThrow(
      "Invalid RetryingLanguageModel options: errorPartBeforeContent: expected \"part\" or \"fail\", got \"fial\""
    )
    expect(String(await built(RetryingLanguageModel.layer({}, { limitter: {} } as never)))).toContain(
      "limitter: unknown option; did you mean limiter?"
    )
    expect(String(await built(ResilientLanguageModel.layer({ retyr: { maxAttempts: 2 } } as never)))).toContain(
      "Invalid ResilientLanguageModel options: retyr: unknown option; did you mean retry?"
    )
  })

  it("ResilientLanguageModel refuses bad options when the layer is built, in the error channel", async () => {
    expect(String(await built(ResilientLanguageModel.layer({ retry: { maxAttempt: 3 } as never })))).toMatch(
      /maxAttempts/
    )
    expect(String(await built(ResilientLanguageModel.layer({ retry: { commitOn: "first-chunk" } })))).toMatch(
      /commitOn/
    )
    expect(await built(ResilientLanguageModel.layer({ breaker: { resetTimeout: -1 } as never }))).toBeInstanceOf(
      InvalidOptions
    )
    expect(await built(ResilientLanguageModel.layer({ retry: { maxAttempts: 2 } }))).toBeUndefined()
  })
})
