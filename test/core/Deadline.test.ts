/**
 * Deadlines, in virtual time: what the limiter does not send. Shared by both Effect lines.
 */
import { describe, expect, it } from "@effect/vitest"
import { AdaptiveRateLimiter, Deadline, FleetStore, ModelError, Priority, RetryAcquisition } from "effect-retry-layer"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import { failureOption } from "../../src/internal/compat.js"
import { TestClock } from "../support/line.js"
import { paced, type Send } from "./support/paced.js"

const sending = (limiter: AdaptiveRateLimiter.AdaptiveRateLimiter, sends: Array<Send>, label: string) =>
  limiter.apply(
    Effect.flatMap(Clock.currentTimeMillis, (at) => Effect.sync(() => sends.push({ label, at }))).pipe(
      Effect.andThen(Effect.sleep("200 millis"))
    )
  )

const queue = (
  limiter: AdaptiveRateLimiter.AdaptiveRateLimiter,
  sends: Array<Send>,
  label: string,
  n: number,
  priority: Priority.Priority = "default"
) =>
  Effect.forkScoped(Effect.forEach(
    Array.from({ length: n }),
    () => Priority.withPriority(sending(limiter, sends, label), priority),
    { concurrency: "unbounded", discard: true }
  ))

const failure = <A, E>(exit: Exit.Exit<A, E>): E | undefined =>
  Exit.isFailure(exit) ? Option.getOrUndefined(failureOption(exit.cause)) : undefined

describe("Deadline", () => {
  it.effect("a deadline shorter than the line fails at once with a DeadlineError saying why, and sends nothing", () =>
    Effect.gen(function*() {
      const limiter = yield* AdaptiveRateLimiter.make(paced)
      const sends: Array<Send> = []
      yield* queue(limiter, sends, "batch", 100)
      yield* TestClock.adjust("2 seconds") // 20 sent (their answers measured: 200 ms), 80 waiting
      const asked = yield* Clock.currentTimeMillis
      const exit = yield* Effect.exit(Deadline.withDeadline(sending(limiter, sends, "late"), "5 seconds"))
      const error = failure(exit)
      expect(error).toBeInstanceOf(ModelError.DeadlineError)
      const refused = error as ModelError.DeadlineError
      expect(yield* Clock.currentTimeMillis).toBe(asked) // at once
      expect(refused.deadline).toBe(asked + 5_000)
      expect(refused.waitMillis).toBeGreaterThanOrEqual(7_500) // 80 ahead at ~10/s
      expect(refused.latencyMillis).toBe(200)
      expect(refused.message).toMatch(/^not sent: an estimated \d+ ms for a send slot and 200 ms for the answer/)
      yield* TestClock.adjust("10 seconds")
      expect(sends.filter((s) => s.label === "late")).toEqual([])
      // not retried: permanent
      expect(RetryableTransient(refused)).toBe(false)
    }).pipe(Effect.provide(FleetStore.layerMemory), Effect.scoped))

  it.effect("a call admitted in time and then pushed back leaves the line one answer before its deadline, unsent", () =>
    Effect.gen(function*() {
      const limiter = yield* AdaptiveRateLimiter.make(paced)
      const sends: Array<Send> = []
      yield* queue(limiter, sends, "batch", 10)
      yield* TestClock.adjust("500 millis")
      // admitted: 5 ahead at 10/s and 200 ms of answer fit in 3 s
      let ended = false
      const call = yield* Effect.forkScoped(
        Effect.exit(Deadline.withDeadline(sending(limiter, sends, "mine"), "3 seconds")).pipe(
          Effect.tap(() => Effect.sync(() => (ended = true)))
        )
      )
      // then interactive work comes, ahead of it
      yield* queue(limiter, sends, "interactive", 100, "interactive")
      yield* TestClock.adjust("2799 millis")
      expect(ended).toBe(false) // still in line
      yield* TestClock.adjust("1 millis") // 3 s - 200 ms after it asked
      const error = failure(yield* Fiber.join(call))
      expect(error).toBeInstanceOf(ModelError.DeadlineError)
      expect((error as ModelError.DeadlineError).message).toMatch(/^not sent: it left the line and 200 ms/)
      yield* TestClock.adjust("20 seconds")
      expect(sends.filter((s) => s.label === "mine")).toEqual([])
      // its place went to the others: 10 sends a second throughout
      expect(sends.length).toBeGreaterThanOrEqual(10 + 100)
    }).pipe(Effect.provide(FleetStore.layerMemory), Effect.scoped))

  it.effect("a slot that comes when the answer could no longer arrive in time goes to the next in line", () =>
    Effect.gen(function*() {
      const limiter = yield* AdaptiveRateLimiter.make(paced)
      const sends: Array<Send> = []
      // six calls answered 500 ms after they are sent; before the first answer, no latency is known
      const slow = limiter.apply(
        Effect.flatMap(Clock.currentTimeMillis, (at) => Effect.sync(() => sends.push({ label: "slow", at }))).pipe(
          Effect.andThen(Effect.sleep("500 millis"))
        )
      )
      yield* Effect.forkScoped(Effect.forEach(Array.from({ length: 6 }), () => slow, { concurrency: "unbounded" }))
      yield* TestClock.adjust("10 millis")
      // admitted at 10 ms (5 ahead at 10/s: 500 ms, and no answer's time known yet), served at 600 ms, when the
      // answers have said 500 ms: it would be answered at 1,100 ms, after its deadline at 1,010 ms
      const call = yield* Effect.forkScoped(
        Effect.exit(Deadline.withDeadline(sending(limiter, sends, "mine"), "1 second"))
      )
      yield* queue(limiter, sends, "next", 1)
      yield* TestClock.adjust("2 seconds")
      const error = failure(yield* Fiber.join(call))
      expect((error as ModelError.DeadlineError).message).toMatch(/^not sent: its send slot came too late/)
      expect(sends.map((s) => s.label)).toEqual(["slow", "slow", "slow", "slow", "slow", "slow", "next"])
      expect(sends[6]!.at).toBe(600) // the slot it was served went to the next
    }).pipe(Effect.provide(FleetStore.layerMemory), Effect.scoped))

  it.effect("calls that fit are sent, and all are answered by their deadline", () =>
    Effect.gen(function*() {
      const limiter = yield* AdaptiveRateLimiter.make(paced)
      const sends: Array<Send> = []
      yield* queue(limiter, sends, "warm-up", 3)
      yield* TestClock.adjust("1 second")
      // 100 callers with 3 s each: about 28 fit (2.8 s of sends at 10/s, each answered 200 ms later)
      const fiber = yield* Effect.forkScoped(Effect.forEach(
        Array.from({ length: 100 }),
        () =>
          Effect.exit(
            Deadline.withDeadline(
              Effect.andThen(sending(limiter, sends, "deadline"), Clock.currentTimeMillis),
              "3 seconds"
            )
          ),
        { concurrency: "unbounded" }
      ))
      yield* TestClock.adjust("5 seconds")
      const exits = yield* Fiber.join(fiber)
      const answered = exits.flatMap((e) => Exit.isSuccess(e) ? [e.value] : [])
      expect(answered.length).toBeGreaterThanOrEqual(25)
      for (const at of answered) expect(at).toBeLessThanOrEqual(1_000 + 3_000)
      // every other one refused without being sent: sends are the answered ones only
      expect(sends.filter((s) => s.label === "deadline")).toHaveLength(answered.length)
      expect(exits.every((e) => Exit.isSuccess(e) || failure(e) instanceof ModelError.DeadlineError)).toBe(true)
    }).pipe(Effect.provide(FleetStore.layerMemory), Effect.scoped))

  it.effect("a call answered 503 keeps its place: its retry goes before the line that fills its deadline", () =>
    Effect.gen(function*() {
      const limiter = yield* AdaptiveRateLimiter.make(paced)
      const sends: Array<Send> = []
      yield* queue(limiter, sends, "warm-up", 3)
      yield* TestClock.adjust("1 second")
      // the first of 60 callers with 4 s each is answered 503 once; the line behind it fills the 4 s (at 10/s,
      // about 37 fit), so a retry at its back would be refused, the request already sent spent for nothing
      let failed = false
      const call = (k: number) =>
        Deadline.withDeadline(
          RetryAcquisition.retryAcquisition(
            limiter.apply(Effect.suspend(() => {
              sends.push({ label: k === 0 ? "unlucky" : "other", at: 0 })
              return k === 0 && !failed
                ? Effect.andThen(Effect.sleep("200 millis"), Effect.sync(() => (failed = true))).pipe(
                  Effect.andThen(
                    Effect.fail(new ModelError.ServerError({ provider: "p", message: "503", status: 503 }))
                  )
                )
                : Effect.andThen(Effect.sleep("200 millis"), Clock.currentTimeMillis)
            })),
            { baseDelay: "100 millis" }
          ),
          "4 seconds"
        )
      const fiber = yield* Effect.forkScoped(
        Effect.forEach(Array.from({ length: 60 }, (_, k) => k), (k) => Effect.exit(call(k)), {
          concurrency: "unbounded"
        })
      )
      yield* TestClock.adjust("6 seconds")
      const exits = yield* Fiber.join(fiber)
      expect(exits[0]!).toEqual(Exit.succeed(expect.any(Number)))
      expect(sends.filter((s) => s.label === "unlucky")).toHaveLength(2)
      // every call that sent a request was answered by its deadline; the others sent nothing
      const sent = sends.filter((s) => s.label !== "warm-up").length
      const answered = exits.filter(Exit.isSuccess)
      expect(sent).toBe(answered.length + 1)
      for (const exit of answered) expect(exit.value).toBeLessThanOrEqual(1_000 + 4_000)
      expect(exits.every((e) => Exit.isSuccess(e) || failure(e) instanceof ModelError.DeadlineError)).toBe(true)
    }).pipe(Effect.provide(FleetStore.layerMemory), Effect.scoped))

  it.effect("untilDeadline: a call with a deadline is retried until it is answered, past maxAttempts; without one, maxAttempts ends it", () =>
    Effect.gen(function*() {
      // throttled four times, then answered
      const throttledFourTimes = () => {
        const at: Array<number> = []
        const call = Effect.flatMap(Clock.currentTimeMillis, (now) => {
          at.push(now)
          return at.length <= 4
            ? Effect.fail(new ModelError.RateLimitError({ provider: "p", message: "429", status: 429 }))
            : Effect.succeed("ok")
        })
        return { at, call }
      }
      const policy = { untilDeadline: true, baseDelay: "100 millis", jitter: false } as const
      const withDeadline = throttledFourTimes()
      const answered = yield* Effect.forkScoped(
        Deadline.withDeadline(RetryAcquisition.retryAcquisition(withDeadline.call, policy), "10 seconds")
      )
      const without = throttledFourTimes()
      const exhausted = yield* Effect.forkScoped(Effect.exit(RetryAcquisition.retryAcquisition(without.call, policy)))
      yield* TestClock.adjust("10 seconds")
      expect(yield* Fiber.join(answered)).toBe("ok")
      expect(withDeadline.at).toEqual([0, 100, 300, 700, 1500])
      expect(failure(yield* Fiber.join(exhausted))).toBeInstanceOf(ModelError.RateLimitError)
      expect(without.at).toEqual([0, 100, 300]) // maxAttempts, the default 3
    }).pipe(Effect.scoped))

  it.effect("untilDeadline: a wait that would cross the deadline is not started; the call fails then with its last error", () =>
    Effect.gen(function*() {
      const at: Array<number> = []
      const down = Effect.flatMap(Clock.currentTimeMillis, (now) => {
        at.push(now)
        return Effect.fail(new ModelError.ServerError({ provider: "p", message: "503", status: 503 }))
      })
      const fiber = yield* Effect.forkScoped(Effect.exit(Deadline.withDeadline(
        RetryAcquisition.retryAcquisition(down, { untilDeadline: true, jitter: false }),
        "10 seconds"
      )))
      yield* TestClock.adjust("7 seconds")
      // waits of 1, 2 and 4 s; the next, 8 s, would end after the deadline
      expect(at).toEqual([0, 1_000, 3_000, 7_000])
      const error = failure(yield* Fiber.join(fiber))
      expect(error).toBeInstanceOf(ModelError.ServerError)
    }).pipe(Effect.scoped))

  it.effect("the earlier deadline wins; the call is cut off at its own with a TimeoutError; a bad one is a defect", () =>
    Effect.gen(function*() {
      const inner = Deadline.withDeadline(Deadline.get, "5 seconds").pipe(Deadline.withDeadline("2 seconds"))
      expect(yield* inner).toBe(2_000)
      const slow = yield* Effect.forkScoped(Effect.exit(Deadline.withDeadline(Effect.sleep("3 seconds"), "1 second")))
      yield* TestClock.adjust("1 second")
      const cut = failure(yield* Fiber.join(slow))
      expect(cut).toBeInstanceOf(ModelError.TimeoutError)
      expect((cut as ModelError.TimeoutError).message).toBe("the deadline of 1000 ms passed")
      const bad = yield* Effect.exit(Deadline.withDeadline(Effect.void, "0 millis"))
      expect(Exit.isFailure(bad) && String(bad.cause)).toMatch(/within:/)
    }).pipe(Effect.scoped))
})

const RetryableTransient = (error: ModelError.ModelError) => ModelError.isTransientTag(error._tag)
