import { describe, expect, it } from "@effect/vitest"
import { Retryable, RetrySchedule } from "effect-retry-layer"
import { calculateBackoffDelay, delays, retry, retryable, RetryContext } from "effect-retry-layer/promise"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"

/** An error that classifies itself as transient, with an optional hint. */
class Busy extends Data.Error<{ readonly retryAfterMs?: number }> {
  [Retryable.symbol]() {
    return Retryable.transient(this.retryAfterMs === undefined ? undefined : Duration.millis(this.retryAfterMs))
  }
}

const oneTick = () => new Promise((resolve) => setImmediate(resolve))

/** A function that throws `failures` in order, then returns "done"; counts calls. */
const flaky = (failures: ReadonlyArray<unknown>) => {
  const state = { calls: 0 }
  const fn = async () => {
    const failure = failures[state.calls++]
    if (failure !== undefined) throw failure
    return "done"
  }
  return { fn, state }
}

const fast = { baseDelay: 0, jitter: false } as const

describe("retry", () => {
  it("retries what retryOn accepts until it succeeds", async () => {
    const { fn, state } = flaky([new TypeError("fetch failed"), new TypeError("fetch failed")])
    expect(await retry(fn, { ...fast, retryOn: [TypeError] })).toBe("done")
    expect(state.calls).toBe(3)
  })

  it("rejects with the original last error after maxAttempts calls", async () => {
    const errors = [new TypeError("a"), new TypeError("b"), new TypeError("c"), new TypeError("d")]
    const { fn, state } = flaky(errors)
    await expect(retry(fn, { ...fast, maxAttempts: 3, retryOn: () => true })).rejects.toBe(errors[2])
    expect(state.calls).toBe(3)
  })

  it("by default retries only errors that classify themselves", async () => {
    const plain = flaky([new Error("boom")])
    await expect(retry(plain.fn, fast)).rejects.toThrow("boom")
    expect(plain.state.calls).toBe(1)
    const classified = flaky([new Busy({})])
    expect(await retry(classified.fn, fast)).toBe("done")
    expect(classified.state.calls).toBe(2)
  })

  it("retryOn with classes retries instances only; a predicate decides for itself", async () => {
    const other = flaky([new RangeError("no")])
    await expect(retry(other.fn, { ...fast, retryOn: [TypeError] })).rejects.toBeInstanceOf(RangeError)
    expect(other.state.calls).toBe(1)
    const byStatus = flaky([{ status: 503 }, { status: 400 }])
    await expect(retry(byStatus.fn, { ...fast, retryOn: (e) => (e as { status: number }).status >= 500 })).rejects
      .toEqual({ status: 400 })
    expect(byStatus.state.calls).toBe(2)
  })

  it("detects rate limits with the rateLimit settings", async () => {
    const { fn, state } = flaky([new Error("429 Too Many Requests")])
    expect(await retry(fn, { ...fast, detectRateLimits: true })).toBe("done")
    expect(state.calls).toBe(2)
  })

  it("onRetry sees every retry once, with the attempt and the wait (a Retry-After floor included)", async () => {
    const seen: Array<readonly [number, number, string]> = []
    const { fn } = flaky([new Busy({}), new Busy({ retryAfterMs: 5 })])
    await retry(fn, {
      baseDelay: 1,
      maxDelay: 4,
      jitter: false,
      onRetry: ({ attempt, delay, error }) =>
        void seen.push([attempt, Duration.toMillis(delay), (error as Busy).constructor.name])
    })
    expect(seen).toEqual([[1, 1, "Busy"], [2, 5, "Busy"]])
  })

  it("passes the attempt number and a signal to each attempt", async () => {
    const contexts: Array<number> = []
    await retry(async ({ attempt, signal }) => {
      contexts.push(attempt)
      expect(signal).toBeInstanceOf(AbortSignal)
      if (attempt < 3) throw new Busy({})
    }, fast)
    expect(contexts).toEqual([1, 2, 3])
  })

  describe("AbortSignal", () => {
    it("aborting during a wait rejects within one tick and makes no further call", async () => {
      const controller = new AbortController()
      const { fn, state } = flaky([new Busy({}), new Busy({})])
      let outcome: unknown = "pending"
      const promise = retry(fn, { baseDelay: "1 hour", maxDelay: "1 hour", signal: controller.signal }).then(
        (value) => (outcome = value),
        (error) => (outcome = error)
      )
      while (state.calls === 0 && outcome === "pending") await oneTick()
      await oneTick() // the first attempt has failed; the hour-long wait has begun
      controller.abort(new Error("user cancelled"))
      await oneTick()
      expect(outcome).toEqual(new Error("user cancelled"))
      await promise
      expect(state.calls).toBe(1)
    })

    it("aborting during an attempt aborts the attempt's own signal", async () => {
      const controller = new AbortController()
      let attemptSignal: AbortSignal | undefined
      const promise = retry(({ signal }) => {
        attemptSignal = signal
        return new Promise<never>(() => {}) // never settles by itself
      }, { signal: controller.signal })
      while (attemptSignal === undefined) await oneTick()
      controller.abort()
      await expect(promise).rejects.toMatchObject({ name: "AbortError" })
      expect(attemptSignal.aborted).toBe(true)
    })

    it("aborting during a retry aborts that attempt's signal and rejects at once", async () => {
      const controller = new AbortController()
      const signals: Array<AbortSignal> = []
      const promise = retry(({ signal }) => {
        signals.push(signal)
        return signals.length === 1 ? Promise.reject(new Busy({})) : new Promise<never>(() => {})
      }, { ...fast, signal: controller.signal })
      while (signals.length < 2) await oneTick()
      controller.abort(new Error("user cancelled"))
      await expect(promise).rejects.toThrow("user cancelled")
      expect(signals[1]!.aborted).toBe(true)
      expect(signals).toHaveLength(2)
    })

    it("an already aborted signal rejects without calling", async () => {
      const { fn, state } = flaky([])
      await expect(retry(fn, { signal: AbortSignal.abort(new Error("too late")) })).rejects.toThrow("too late")
      expect(state.calls).toBe(0)
    })
  })

  it("rejects a bad policy with InvalidRetryPolicy", async () => {
    await expect(retry(async () => 1, { maxAttempts: 0 })).rejects.toBeInstanceOf(RetrySchedule.InvalidRetryPolicy)
  })
})

describe("retryable", () => {
  it("retries a class method and keeps `this`", async () => {
    class Client {
      calls = 0
      constructor(readonly name: string) {}

      @retryable({ ...fast, maxAttempts: 4, retryOn: [TypeError] })
      async fetchName(suffix: string): Promise<string> {
        this.calls++
        if (this.calls < 3) throw new TypeError("network")
        return `${this.name}${suffix}`
      }
    }
    const client = new Client("acme")
    expect(await client.fetchName("!")).toBe("acme!")
    expect(client.calls).toBe(3)
  })

  it("refuses bad options when the class is defined", () => {
    expect(() => retryable({ factor: 0 })).toThrow(RetrySchedule.InvalidRetryPolicy)
  })
})

describe("delays and calculateBackoffDelay", () => {
  it("preview the schedule's waits, before jitter", () => {
    expect(delays()).toEqual([1000, 2000])
    expect(delays({ baseDelay: 100, factor: 3, maxDelay: 1000, maxAttempts: 6 })).toEqual([100, 300, 900, 1000, 1000])
    expect(delays({ maxAttempts: 1 })).toEqual([])
  })

  it("calculateBackoffDelay gives one of them", () => {
    expect(calculateBackoffDelay(3, { baseDelay: 100, factor: 3, maxDelay: 1000 })).toBe(900)
    expect(calculateBackoffDelay(1)).toBe(1000)
    expect(() => calculateBackoffDelay(0)).toThrow(RangeError)
  })
})

describe("hostile errors", () => {
  it("an error whose message getter throws is retried and rejected as itself, not as the getter's error", async () => {
    const hostile = Object.defineProperty({ status: 503 }, "message", {
      get() {
        throw new Error("the getter")
      }
    })
    let calls = 0
    const rejected = await retry(async () => {
      calls++
      throw hostile
    }, { maxAttempts: 2, baseDelay: 0 }).catch((error: unknown) => error)
    expect(rejected).toBe(hostile)
    expect(calls).toBe(2)
  })
})

describe("what each consumer honours", () => {
  it("delays refuses a list it cannot hold instead of running out of memory; calculateBackoffDelay is O(1)", () => {
    expect(() => delays({ maxAttempts: 1e9 })).toThrow(/maxAttempts must be an integer from 1 to 1000/)
    expect(delays({ maxAttempts: 1000 })).toHaveLength(999)
    expect(calculateBackoffDelay(1e6)).toBe(30_000)
  })

  it("a schedule-only consumer refuses call-level fields; retry refuses only the commit point", async () => {
    expect(() => delays({ maxElapsed: "1 second" })).toThrow(/delays cannot honour maxElapsed/)
    expect(() => new RetryContext({ timeout: "1 second" })).toThrow(/RetryContext cannot honour timeout/)
    await expect(retry(async () => "ok", { commitOn: "first-chunk" })).rejects.toThrow(/retry cannot honour commitOn/)
    expect(await retry(async () => "ok", { timeout: "1 second", maxElapsed: "5 seconds" })).toBe("ok")
  })

  it("refuses a misspelled option rather than ignoring it", async () => {
    await expect(retry(async () => "ok", { maxAttempt: 10 } as never)).rejects.toBeInstanceOf(
      RetrySchedule.InvalidRetryPolicy
    )
  })

  it("refuses a retryOn that is neither a predicate nor a list of error classes, saying what it takes", async () => {
    // a class's name as a string died with "TypeError: accepts is not a function" at the first failure
    await expect(retry(async () => "ok", { retryOn: "TypeError" } as never)).rejects.toThrow(
      "retryOn: retryOn must be a predicate or an array of error classes (e.g. [TypeError]), got \"TypeError\""
    )
    await expect(retry(async () => "ok", { retryOn: [TypeError, "RangeError"] } as never)).rejects.toBeInstanceOf(
      RetrySchedule.InvalidRetryPolicy
    )
    expect(await retry(async () => "ok", { retryOn: [TypeError] })).toBe("ok")
  })
})

describe("RetryContext", () => {
  it("drives a hand-written loop with the same schedule", async () => {
    const context = new RetryContext({ maxAttempts: 3, baseDelay: 2, jitter: false, retryOn: () => true })
    const seen: Array<[number, number]> = []
    const { fn, state } = flaky([new Error("a"), new Error("b"), new Error("c")])
    let result: unknown
    for (;;) {
      try {
        result = await fn()
        break
      } catch (error) {
        context.recordFailure(error)
        if (!context.canRetry()) {
          result = error
          break
        }
        seen.push([context.currentAttempt, context.getDelay()])
        await context.wait()
      }
    }
    expect(seen).toEqual([[1, 2], [2, 4]])
    expect(result).toEqual(new Error("c"))
    expect(state.calls).toBe(3)
    expect(context.currentAttempt).toBe(3)
    expect(context.getDelay()).toBe(0)
  })

  it("does not retry what the options do not accept, and says so", async () => {
    const context = new RetryContext()
    context.recordFailure(new Error("unclassified"))
    expect(context.canRetry()).toBe(false)
    await expect(context.wait()).rejects.toThrow("may not be retried")
  })

  it("wait is abortable", async () => {
    const context = new RetryContext({ baseDelay: "1 hour", maxDelay: "1 hour", retryOn: () => true })
    context.recordFailure(new Error("x"))
    const controller = new AbortController()
    const waiting = context.wait(controller.signal)
    controller.abort(new Error("stop"))
    await expect(waiting).rejects.toThrow("stop")
    expect(context.currentAttempt).toBe(1)
  })
})
