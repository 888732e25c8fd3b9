// The limiter paced by the provider's rate-limit headers and each call's token cost, in virtual time against a
// provider with per-minute limits (TokenLimitedModel). Over real HTTP: AdaptiveRateLimiter.loopback.test.ts.
import { describe, expect, it } from "@effect/vitest"
import {
  AdaptiveRateLimiter,
  CompletionModel,
  FleetStore,
  ModelError,
  RateLimitHeaders,
  RetryingModel
} from "effect-retry-layer"
import { TokenLimitedModel } from "effect-retry-layer/testing"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { ledger } from "./support/ledger.js"
import { limited, memory, quiet, request } from "./support/limiter.js"

describe("AdaptiveRateLimiter: pacing by the provider's rate-limit headers and each call's token cost", () => {
  it.scoped("`apply` (a call of no known size) counts each call against the provider's request limit", () =>
    Effect.gen(function*() {
      // 120 requests a minute (2/s), told in the headers; one caller calling again as soon as it may
      const [provider, stats] = yield* TokenLimitedModel.make({
        limits: { requests: 120 },
        headers: "anthropic",
        latency: "100 millis"
      })
      const { model } = yield* limited(provider)
      let stop = false
      const caller = yield* Effect.fork(Effect.gen(function*() {
        while (!stop) yield* Effect.exit(Effect.flatMap(model.chatStream(request), Stream.runDrain))
      }))
      yield* TestClock.adjust("1 minute") // the first minute's 120 and its refill
      const before = yield* stats
      yield* TestClock.adjust("2 minutes")
      const after = yield* stats
      stop = true
      yield* TestClock.adjust("10 seconds")
      yield* Fiber.join(caller)
      // at the provider's 2/s, without its 429s (counting nothing, it sent at its send rate: 25 refused a minute)
      expect(after.accepted - before.accepted).toBeGreaterThanOrEqual(235)
      expect(after.refused - before.refused).toBeLessThanOrEqual(2)
    }).pipe(memory, quiet))

  // 120 requests and 20,000 output tokens a minute; 300 calls of 2,000 characters, maxTokens 200, 100 used.
  const limits = { requests: 120, inputTokens: 1_000_000, outputTokens: 20_000 }
  const batch = Array.from({ length: 300 }, (_, i): CompletionModel.ChatRequest => ({
    messages: [{ role: "user", content: `${i} `.padEnd(2_000, "x") }],
    maxTokens: 200
  }))
  const usage = (): CompletionModel.Usage => ({ inputTokens: 500, outputTokens: 100 })
  const run = (headers: "anthropic" | "openai" | "none", options: AdaptiveRateLimiter.Options.Input = {}) =>
    Effect.gen(function*() {
      const [provider, stats] = yield* TokenLimitedModel.make({
        limits: headers === "openai" ? { requests: 120, tokens: 80_000 } : limits,
        headers,
        latency: "500 millis",
        usage
      })
      const model = RetryingModel.make(yield* AdaptiveRateLimiter.decorate(options)(provider), { maxAttempts: 20 })
      const start = yield* Clock.currentTimeMillis
      const fiber = yield* Effect.fork(Effect.forEach(
        batch,
        (r) =>
          Effect.zipRight(
            Effect.flatMap(model.chatStream(r), Stream.runDrain),
            Effect.map(Clock.currentTimeMillis, (t) => t - start)
          ),
        { concurrency: "unbounded" }
      ))
      yield* TestClock.adjust("10 minutes")
      return { finished: yield* Fiber.join(fiber), ...(yield* stats) }
    }).pipe(memory, quiet)

  it.scoped("a batch over the provider's limits gets no 429 once the first answer told them, in either format", () =>
    Effect.gen(function*() {
      for (const format of ["anthropic", "openai"] as const) {
        // the blind start within the key's limits: none at all
        const within = yield* run(format, { burst: 20, initialRate: 1 })
        expect(within.refused).toBe(0)
        expect(within.accepted).toBe(300)
        // 120 at once, then 2 a second: the last of 180 more at 90 s (+ the 500 ms answer); the 20 sent blind hold
        // their reserved output until they finish, so that the first told wave is output-bound: 90 in all by 1 s
        expect(Math.max(...within.finished)).toBeGreaterThanOrEqual(90_000)
        expect(Math.max(...within.finished)).toBeLessThan(105_000)
        // the default blind start (a burst of 100, then 50/s until the first answer, 500 ms away) is over a key
        // this small: what it sent beyond the limits is refused, and nothing after it
        const defaults = yield* run(format)
        expect(defaults.refused).toBeGreaterThan(0)
        expect(defaults.refused).toBeLessThanOrEqual(25)
      }
    }))

  it.scoped("without headers (a proxy that drops them, or rateLimitHeaders: false) the same batch meets 429s", () =>
    Effect.gen(function*() {
      expect((yield* run("none")).refused).toBeGreaterThan(50)
      expect((yield* run("anthropic", { rateLimitHeaders: false })).refused).toBeGreaterThan(50)
    }))

  it.scoped("the tightest dimension decides: output tokens reserved at maxTokens and settled to what was used", () =>
    Effect.gen(function*() {
      // 1,000 output tokens a minute, maxTokens 200, 100 used: 5 at once on reservations, 10 a minute in use
      const [provider, stats] = yield* TokenLimitedModel.make({
        limits: { requests: 1_000, outputTokens: 1_000 },
        latency: "1 second",
        usage
      })
      // one call before the first answer: the blind start is within the key's limits
      const model = yield* AdaptiveRateLimiter.decorate({ burst: 1, initialRate: 1 })(provider)
      const fiber = yield* Effect.fork(Effect.forEach(
        batch.slice(0, 20),
        (r) => Effect.zipRight(Effect.flatMap(model.chatStream(r), Stream.runDrain), Clock.currentTimeMillis),
        { concurrency: "unbounded" }
      ))
      yield* TestClock.adjust("10 minutes")
      const finished = (yield* Fiber.join(fiber)).sort((a, b) => a - b)
      expect((yield* stats).refused).toBe(0)
      // 20 calls use 2,000 tokens: a minute's worth at once, the rest at 1,000 a minute, so a minute or more;
      // charged at 200 each and never settled, they would take three minutes
      expect(finished[19]!).toBeGreaterThan(60_000)
      expect(finished[19]!).toBeLessThan(100_000)
    }).pipe(memory, quiet))

  it.scoped("every charge is settled once: 10,000 mixed calls leave nothing reserved", () =>
    Effect.gen(function*() {
      const { net, store } = ledger()
      const big = { limit: 1e11, remaining: 1e11 }
      const state: RateLimitHeaders.RateLimitState = {
        requests: big,
        tokens: big,
        inputTokens: big,
        outputTokens: big
      }
      const used = { requests: 0, tokens: 0, inputTokens: 0, outputTokens: 0 }
      // by the call's number: an answer (its usage), a 503, a stream failing before its end, one the caller
      // abandons after a chunk, and (below) callers interrupted while they wait or while their call is under way;
      // the first call (a 503) waits for `first`, every other for `rest`
      const first = yield* Effect.makeLatch(false)
      const rest = yield* Effect.makeLatch(false)
      const provider: CompletionModel.Service = {
        name: "mixed",
        model: "m",
        chatStream: (r) =>
          Effect.gen(function*() {
            const i = Number((r.messages[0]!.content as string).split(" ")[0])
            yield* RateLimitHeaders.report(state)
            yield* (i === 1 ? first : rest).await
            if (i % 5 === 1) {
              return yield* Effect.fail(new ModelError.ServerError({ provider: "p", status: 503, message: "down" }))
            }
            const chunks = [
              CompletionModel.StreamChunk.TextDelta({ text: "a" }),
              CompletionModel.StreamChunk.TextDelta({ text: "b" }),
              CompletionModel.StreamChunk.TurnFinished({
                reason: "stop",
                usage: { inputTokens: i % 13, outputTokens: i % 17, cacheWriteTokens: i % 3 }
              })
            ]
            if (i % 5 === 2) {
              return Stream.concat(
                Stream.fromIterable(chunks.slice(0, 1)),
                Stream.fail(new ModelError.StreamError({ provider: "p", message: "cut" }))
              )
            }
            return Stream.fromIterable(chunks)
          })
      }
      // a burst as large as the batch: the first call goes alone, the others wait for its answer, then all go
      const model = yield* AdaptiveRateLimiter.decorate({ burst: 10_000 })(provider).pipe(
        Effect.provideService(FleetStore.FleetStore, store)
      )
      const call = (i: number) => {
        const request: CompletionModel.ChatRequest = { messages: [{ role: "user", content: `${i} hello` }] }
        return Effect.flatMap(
          model.chatStream(request),
          (stream) => i % 5 === 3 ? Stream.runDrain(Stream.take(stream, 1)) : Stream.runDrain(stream)
        )
      }
      const fibers = yield* Effect.forEach(
        Array.from({ length: 10_000 }, (_, k) => k + 1),
        (i) => Effect.fork(call(i)),
        { concurrency: "unbounded" }
      )
      const interrupt = (last: number) =>
        Effect.forEach(fibers.filter((_, k) => (k + 1) % 10 === last), Fiber.interrupt)
      // interrupted while in line behind the first call, then with their own call under way
      yield* TestClock.adjust("1 millis")
      yield* interrupt(4)
      yield* first.open
      yield* TestClock.adjust("1 millis")
      yield* interrupt(9)
      yield* rest.open
      yield* TestClock.adjust("1 millis")
      const exits = yield* Effect.forEach(fibers, Fiber.await)
      const succeeded = exits.flatMap((exit, k) => Exit.isSuccess(exit) && (k + 1) % 5 !== 3 ? [k + 1] : [])
      for (const i of succeeded) {
        const u = AdaptiveRateLimiter.used({ inputTokens: i % 13, outputTokens: i % 17, cacheWriteTokens: i % 3 })
        for (const d of Object.keys(used) as Array<keyof typeof used>) used[d] += u[d]!
      }
      expect(succeeded.filter((i) => i % 5 === 0)).toHaveLength(2_000)
      // the two waves of interruptions met callers in line and callers under way
      const interrupted = (last: number) => exits.filter((e, k) => (k + 1) % 10 === last && Exit.isInterrupted(e))
      expect(interrupted(4)).toHaveLength(1_000)
      expect(interrupted(9)).toHaveLength(1_000)
      expect(net).toEqual(used)
    }))

  /** A provider that reports `state` in its headers and answers `stream`, behind a limiter on `store`. */
  const reporting = (
    state: RateLimitHeaders.RateLimitState,
    stream: Stream.Stream<CompletionModel.StreamChunk, ModelError.ModelError>,
    store: FleetStore.Service
  ) =>
    AdaptiveRateLimiter.decorate()({
      name: "p",
      model: "m",
      chatStream: () => Effect.as(RateLimitHeaders.report(state), stream)
    }).pipe(Effect.provideService(FleetStore.FleetStore, store))

  it.scoped("a process's first call, sent before the limits were known, is settled to its usage when its turn ends", () =>
    Effect.gen(function*() {
      const { net, store } = ledger()
      // 60 output tokens a minute; the first turn uses 20 of the 4,096 a request without maxTokens reserves
      const state: RateLimitHeaders.RateLimitState = {
        requests: { limit: 1_000, remaining: 1_000 },
        outputTokens: { limit: 60, remaining: 60 }
      }
      const usage = { inputTokens: 1, outputTokens: 20 }
      const model = yield* reporting(
        state,
        Stream.make(
          CompletionModel.StreamChunk.TextDelta({ text: "a" }),
          CompletionModel.StreamChunk.TurnFinished({ reason: "stop", usage })
        ),
        store
      )
      yield* Effect.flatMap(model.chatStream(request), Stream.runDrain)
      expect(net).toEqual(AdaptiveRateLimiter.used(usage))
      // 40 of 60 left: a call of 10 goes at once (left charged at 4,096, it would wait over an hour)
      const next = yield* Effect.fork(
        Effect.flatMap(model.chatStream({ ...request, maxTokens: 10 }), Stream.runDrain)
      )
      yield* TestClock.adjust("1 second")
      expect(Option.isSome(yield* Fiber.poll(next))).toBe(true)
    }))

  it.scoped("a charge is settled once: a turn that finishes, then fails, gives nothing more back", () =>
    Effect.gen(function*() {
      const { net, store } = ledger()
      const state: RateLimitHeaders.RateLimitState = { outputTokens: { limit: 1e9, remaining: 1e9 } }
      const usage = { inputTokens: 1, outputTokens: 20 }
      const model = yield* reporting(
        state,
        Stream.concat(
          Stream.make(CompletionModel.StreamChunk.TurnFinished({ reason: "stop", usage })),
          Stream.fail(new ModelError.StreamError({ provider: "p", message: "after the end" }))
        ),
        store
      )
      for (let i = 0; i < 3; i++) yield* Effect.exit(Effect.flatMap(model.chatStream(request), Stream.runDrain))
      expect(net.outputTokens).toBe(3 * usage.outputTokens)
    }))
})
