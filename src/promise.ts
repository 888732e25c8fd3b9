/**
 * Retries for code outside Effect: Promises, `AbortSignal`, a method
 * decorator and a hand-driven context, all on the same {@link RetrySchedule}
 * (classification, Retry-After floor, capped exponential backoff, additive
 * jitter) as the Effect API.
 *
 * Which errors are retried: by default those that classify themselves
 * (`Retryable`), and, with `detectRateLimits` (or `RetryPolicy.rateLimit`),
 * errors that look like rate limits. With `retryOn` (error classes, or a
 * predicate) exactly the errors it accepts. Anything else is thrown at once.
 *
 * @example
 * ```ts
 * import { retry } from "effect-retry-layer/promise"
 *
 * const controller = new AbortController()
 * const answer = await retry(({ signal }) => fetch("https://example.test/v1", { signal }).then((r) => {
 *   if (r.status === 429 || r.status >= 500) throw Object.assign(new Error(`HTTP ${r.status}`), { status: r.status })
 *   return r.json()
 * }), { maxAttempts: 5, retryOn: (e) => (e as { status?: number }).status !== undefined, signal: controller.signal })
 * ```
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import type * as Schedule from "effect/Schedule"
import type * as ScheduleDecision from "effect/ScheduleDecision"
import { Classified } from "./core/internal/classified.js"
import * as Retryable from "./core/Retryable.js"
import * as Schedules from "./internal/schedule.js"
import * as RetryAcquisition from "./RetryAcquisition.js"
import * as RetrySchedule from "./RetrySchedule.js"

/**
 * @category models
 * @since 0.1.0
 */
export interface RetryOptions extends RetrySchedule.RetryPolicy.Input {
  /** Aborting stops at once, during an attempt or a wait, and rejects with the signal's reason. */
  readonly signal?: AbortSignal
  /** Retry exactly these: errors that are instances of the classes, or that the predicate accepts. */
  readonly retryOn?: ReadonlyArray<abstract new(...args: never) => unknown> | ((error: unknown) => boolean)
  /**
   * Called once per retry, before its wait, with the failed attempt's error (as thrown), its number and the
   * wait (`Duration.toMillis(step.delay)` for milliseconds); the wait starts when a returned promise settles.
   */
  readonly onRetry?: (step: RetrySchedule.RetryStep<unknown>) => void | PromiseLike<void>
}

/**
 * What each attempt is given.
 *
 * @category models
 * @since 0.1.0
 */
export interface AttemptContext {
  /** 1 for the first attempt. */
  readonly attempt: number
  /** Aborted when the caller's signal is, so the attempt can cancel its own work. */
  readonly signal: AbortSignal
}

/**
 * Calls `fn` until it succeeds, an error is not to be retried, or the policy
 * gives up; rejects with the last error (the original value, not a wrapper).
 *
 * @category combinators
 * @since 0.1.0
 */
export const retry = async <T>(
  fn: (context: AttemptContext) => T | PromiseLike<T>,
  options: RetryOptions = {}
): Promise<T> => {
  const { onRetry, signal } = options
  const { classify, policy } = compile(options, "retry")
  if (signal?.aborted) throw signal.reason
  let attempt = 0
  // The first failure, when the first attempt ran outside Effect.
  let pending: Attempted | undefined
  // Most calls succeed first time, so the first attempt runs as a plain call, costing what the call costs, and
  // the Effect program starts at the first failure. Not with a deadline or a per-attempt timeout, which the
  // program enforces from the first attempt on.
  if (policy.timeout === undefined && policy.maxElapsed === undefined) {
    attempt = 1
    try {
      return await abortable(fn({ attempt, signal: signal ?? neverAborted }), signal)
    } catch (error) {
      if (signal?.aborted) throw signal.reason
      pending = new Classified(error, classify(error))
      if (pending.classification._tag === "Permanent") throw error
    }
  }
  const attempts = Effect.suspend(() => {
    if (pending !== undefined) {
      const first = pending
      pending = undefined
      return Effect.fail(first)
    }
    return Effect.tryPromise({
      try: (attemptSignal) => {
        attempt++
        return Promise.resolve(fn({ attempt, signal: attemptSignal }))
      },
      catch: (error) => new Classified(error, classify(error))
    })
  })
  const program = RetryAcquisition.retryAcquisition(attempts, policy, {
    name: "retry",
    ...(onRetry === undefined ? {} : {
      onRetry: (step) =>
        Effect.promise(async () => {
          await onRetry({ ...step, error: unwrap(step.error) })
        })
    })
  }).pipe(quiet)
  const exit = await Effect.runPromiseExit(program, signal === undefined ? undefined : { signal })
  if (Exit.isSuccess(exit)) return exit.value
  if (Cause.isInterruptedOnly(exit.cause) && signal?.aborted) throw signal.reason
  throw Option.match(Cause.failureOption(exit.cause), { onNone: () => Cause.squash(exit.cause), onSome: unwrap })
}

/**
 * A method decorator (TypeScript 5 standard decorators) that retries every
 * call of an async method with {@link retry}; `this` is kept.
 *
 * @example
 * ```ts
 * import { retryable } from "effect-retry-layer/promise"
 *
 * class Client {
 *   constructor(private readonly baseUrl: string) {}
 *
 *   @retryable({ maxAttempts: 3, retryOn: [TypeError] })
 *   async health() {
 *     return fetch(`${this.baseUrl}/health`)
 *   }
 * }
 * ```
 *
 * @throws InvalidRetryPolicy when the options are not valid (when the class is defined)
 * @category combinators
 * @since 0.1.0
 */
export const retryable = (options: RetryOptions = {}) => {
  compile(options, "retry")
  return <This, Args extends Array<unknown>, R>(
    method: (this: This, ...args: Args) => PromiseLike<R>,
    _context: ClassMethodDecoratorContext<This, (this: This, ...args: Args) => PromiseLike<R>>
  ) =>
    function(this: This, ...args: Args): Promise<R> {
      return retry(() => method.apply(this, args), options)
    }
}

/**
 * The waits, in milliseconds, before each of the `maxAttempts - 1` retries a
 * policy allows when every attempt fails transiently without a server hint,
 * before jitter (which adds at most 10%): at most 999 values, as
 * `maxAttempts` is at most 1,000.
 *
 * @throws InvalidRetryPolicy when the options are not valid or set `timeout`, `maxElapsed` or `commitOn`
 * @category schedules
 * @since 0.1.0
 */
export const delays = (options: RetrySchedule.RetryPolicy.Input = {}): ReadonlyArray<number> => {
  const policy = backoffPolicy(options, "delays")
  return Array.from(
    { length: policy.maxAttempts - 1 },
    (_, i) => Duration.toMillis(RetrySchedule.backoff(policy, i + 1))
  )
}

/**
 * The wait, in milliseconds, before retry number `attempt` (1 for the first
 * retry), before jitter. O(1) for any `attempt`.
 *
 * @throws InvalidRetryPolicy when the options are not valid or set `timeout`, `maxElapsed` or `commitOn`
 * @throws RangeError when `attempt` is not an integer >= 1
 * @category schedules
 * @since 0.1.0
 */
export const calculateBackoffDelay = (attempt: number, options: RetrySchedule.RetryPolicy.Input = {}): number => {
  if (!Number.isInteger(attempt) || attempt < 1) {
    throw new RangeError(`attempt must be an integer >= 1, got ${attempt}`)
  }
  return Duration.toMillis(RetrySchedule.backoff(backoffPolicy(options, "calculateBackoffDelay"), attempt))
}

/**
 * The schedule, driven by hand, for loops that cannot be a single function.
 *
 * @example
 * ```ts
 * import { RetryContext } from "effect-retry-layer/promise"
 *
 * declare function send(): Promise<string>
 * const sendWithRetries = async (): Promise<string> => {
 *   const context = new RetryContext({ maxAttempts: 4, retryOn: () => true })
 *   for (;;) {
 *     try {
 *       return await send()
 *     } catch (error) {
 *       context.recordFailure(error)
 *       if (!context.canRetry()) throw error
 *       await context.wait()
 *     }
 *   }
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export class RetryContext {
  readonly #classify: (error: unknown) => Retryable.RetryClassification
  readonly #schedule: Schedule.Schedule<RetrySchedule.RetryStep<Attempted>, Attempted>
  #state: unknown
  #attempt = 1
  #next: Duration.Duration | undefined = undefined
  #failed = false

  /**
   * @throws InvalidRetryPolicy when the options are not valid
   */
  constructor(options: Omit<RetryOptions, "signal" | "onRetry"> = {}) {
    const { classify, policy } = compile(options, "RetryContext")
    this.#classify = classify
    this.#schedule = Schedules.fromPolicy<Attempted>(policy)
    this.#state = this.#schedule.initial
  }

  /** The attempt in progress, or the last one: 1 for the first. */
  get currentAttempt(): number {
    return this.#attempt
  }

  /** Feeds the failure of the current attempt to the schedule. */
  recordFailure(error: unknown): void {
    const step = this.#schedule.step(Date.now(), new Classified(error, this.#classify(error)), this.#state)
    const [state, out, decision] = Effect.runSync(step) as readonly [
      unknown,
      RetrySchedule.RetryStep<Attempted>,
      ScheduleDecision.ScheduleDecision
    ]
    this.#state = state
    this.#failed = true
    this.#next = decision._tag === "Continue" ? out.delay : undefined
  }

  /** Whether the last recorded failure may be retried. */
  canRetry(): boolean {
    return this.#failed && this.#next !== undefined
  }

  /** Milliseconds to wait before the next attempt; 0 when there is none. */
  getDelay(): number {
    return this.#next === undefined ? 0 : Duration.toMillis(this.#next)
  }

  /**
   * Waits {@link getDelay} milliseconds and moves to the next attempt; rejects
   * at once, with the signal's reason, if `signal` aborts.
   *
   * @throws Error when the last failure may not be retried
   */
  async wait(signal?: AbortSignal): Promise<void> {
    if (!this.canRetry()) throw new Error("RetryContext.wait: the last failure may not be retried")
    if (signal?.aborted) throw signal.reason
    const exit = await Effect.runPromiseExit(Effect.sleep(this.#next!), signal === undefined ? undefined : { signal })
    if (Exit.isFailure(exit)) throw signal?.reason ?? Cause.squash(exit.cause)
    this.#attempt++
    this.#failed = false
    this.#next = undefined
  }
}

// Internals -------------------------------------------------------------------

/** A caught error, with the classification the options gave it. */
type Attempted = Classified<unknown>

const backoffPolicy = (options: RetrySchedule.RetryPolicy.Input, consumer: string) =>
  RetrySchedule.honouredBy(RetrySchedule.policy(options), consumer, [])

const unwrap = (error: unknown): unknown => error instanceof Classified ? error.value : error

// Effect's logs and spans are for Effect programs; callers here get `onRetry`.
const quiet = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(Effect.withTracerEnabled(false), Logger.withMinimumLogLevel(LogLevel.None))

interface Compiled {
  readonly policy: RetrySchedule.RetryPolicy
  readonly classify: (error: unknown) => Retryable.RetryClassification
}

// Validating a policy costs ~2 us, more than a successful call should: options objects that are used again (a
// constant, a decorator's) are validated once.
const compiled = new WeakMap<object, Compiled>()

const compile = (
  options: RetryOptions | Omit<RetryOptions, "signal" | "onRetry">,
  consumer: "retry" | "RetryContext"
): Compiled => {
  const known = compiled.get(options) ?? compileOnce(options)
  // A context only sees failures: it cannot limit the attempts it does not run. (Three field reads.)
  RetrySchedule.honouredBy(known.policy, consumer, consumer === "retry" ? ["timeout", "maxElapsed"] : [])
  return known
}

const compileOnce = (options: RetryOptions | Omit<RetryOptions, "signal" | "onRetry">): Compiled => {
  const { onRetry: _onRetry, retryOn, signal: _signal, ...input } = options as RetryOptions
  const policy = options instanceof RetrySchedule.RetryPolicy ? options : RetrySchedule.policy(input)
  if (
    retryOn !== undefined && typeof retryOn !== "function" &&
    !(Array.isArray(retryOn) && retryOn.every((type) => typeof type === "function"))
  ) {
    const message = `retryOn must be a predicate or an array of error classes (e.g. [TypeError]), got ${
      typeof retryOn === "string" ? JSON.stringify((retryOn as string).slice(0, 40)) : typeof retryOn
    }`
    throw new RetrySchedule.InvalidRetryPolicy({
      message: `Invalid retry policy: retryOn: ${message}`,
      issues: [{ _tag: "Type", path: ["retryOn"], message }]
    })
  }
  const accepts = retryOn === undefined
    ? undefined
    : Array.isArray(retryOn)
    ? (error: unknown) => retryOn.some((type) => error instanceof type)
    : retryOn as (error: unknown) => boolean
  const classify = (error: unknown): Retryable.RetryClassification => {
    const own = RetrySchedule.classifyUnder(policy, error)
    if (accepts === undefined) return own
    return accepts(error) ? (own._tag === "Transient" ? own : Retryable.transient()) : Retryable.permanent
  }
  const result = { policy, classify }
  compiled.set(options, result)
  return result
}

const neverAborted = new AbortController().signal

/** `promise`, or the signal's reason as soon as it aborts, whichever comes first. */
const abortable = <T>(value: T | PromiseLike<T>, signal: AbortSignal | undefined): Promise<T> => {
  if (signal === undefined) return Promise.resolve(value)
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener("abort", onAbort, { once: true })
    Promise.resolve(value).then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort))
  })
}
