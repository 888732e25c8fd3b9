/**
 * Scale and memory.
 *
 * 1. 10,000 calls waiting in backoff at once, on the real clock: every call's
 *    first attempt fails with a 10 s Retry-After, and while all of them wait
 *    we measure the heap they hold (after a full GC) and the event loop's lag.
 *    Next to this library: cockatiel and p-retry, holding the same calls.
 * 2. 100,000 clients through the fleet simulation: wall time of the run.
 */
import { ExponentialBackoff, handleAll, retry as cockatielRetry } from "cockatiel"
import { Duration, Effect, Fiber, Logger, LogLevel, Stream } from "effect"
import type { CompletionModel } from "effect-retry-layer"
import { ModelError, RetryingModel } from "effect-retry-layer"
import { retry } from "effect-retry-layer/promise"
import { setMaxListeners } from "node:events"
import * as v8 from "node:v8"
import * as vm from "node:vm"
import pRetry from "p-retry"
import * as Fleet from "./fleet.js"
import { report } from "./support/report.js"

const waiting = 10_000
const simulatedClients = 100_000

v8.setFlagsFromString("--expose-gc")
const gc = vm.runInNewContext("gc") as () => void

const heapAfterGc = () => {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

const untilTrue = async (condition: () => boolean) => {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve))
}

/** How late a 10 ms timer fires, over one second: the event loop's lag. */
const loopLag = async () => {
  const late: Array<number> = []
  for (let i = 0; i < 100; i++) {
    const expected = performance.now() + 10
    await new Promise((resolve) => setTimeout(resolve, 10))
    late.push(Math.max(0, performance.now() - expected))
  }
  late.sort((a, b) => a - b)
  return { p99: late[98]!, max: late[99]! }
}

/** Starts `waiting` calls, waits until each has failed once, then measures while they all wait. */
const holding = async (name: string, start: (failed: () => void) => () => Promise<unknown>) => {
  const before = heapAfterGc()
  let failed = 0
  const began = performance.now()
  const stop = start(() => failed++)
  await untilTrue(() => failed >= waiting)
  const startedMillis = performance.now() - began
  const lag = await loopLag()
  const held = heapAfterGc() - before
  const stopping = performance.now()
  await stop()
  const cancelMillis = performance.now() - stopping
  return {
    benchmark: `${waiting.toLocaleString("en")} calls waiting in backoff`,
    variant: name,
    "bytes per waiting call": Math.round(held / waiting),
    "until all wait, ms": Math.round(startedMillis),
    "loop lag p99, ms": Number(lag.p99.toFixed(1)),
    "loop lag max, ms": Number(lag.max.toFixed(1)),
    "cancel all, ms": Math.round(cancelMillis)
  }
}

class Busy extends Error {
  readonly status = 429
}

const effectLayer = () =>
  holding("RetryingModel (Effect fibers)", (failed) => {
    const inner: CompletionModel.Service = {
      name: "bench",
      model: "m",
      chatStream: () =>
        Effect.fail(
          new ModelError.RateLimitError({ provider: "bench", message: "busy", retryAfter: Duration.seconds(10) })
        )
    }
    const model = RetryingModel.make(inner, {}, { onRetry: () => Effect.sync(failed) })
    const request: CompletionModel.ChatRequest = { messages: [] }
    const fibers = Array.from(
      { length: waiting },
      () =>
        Effect.runFork(
          Effect.flatMap(model.chatStream(request), Stream.runDrain).pipe(Logger.withMinimumLogLevel(LogLevel.None))
        )
    )
    return () => Effect.runPromise(Fiber.interruptAll(fibers))
  })

// What the runtimes themselves cost per waiting call, for scale.
const effectSleep = () =>
  holding("baseline: an Effect fiber in Effect.sleep", (failed) => {
    const fibers = Array.from({ length: waiting }, () =>
      Effect.runFork(Effect.zipRight(Effect.sync(failed), Effect.sleep("10 seconds"))))
    return () =>
      Effect.runPromise(Fiber.interruptAll(fibers))
  })

const timerPromise = () =>
  holding("baseline: a Promise on setTimeout", (failed) => {
    const timers: Array<NodeJS.Timeout> = []
    for (let i = 0; i < waiting; i++) {
      new Promise((resolve) => timers.push(setTimeout(resolve, 10_000)))
      failed()
    }
    return async () => timers.forEach(clearTimeout)
  })

// The Promise libraries: each call's first attempt throws a 429, and the policy says wait 10 s.
const promises = (
  name: string,
  call: (fn: () => Promise<never>, signal: AbortSignal, onRetry: () => void) => Promise<unknown>
) =>
  holding(name, (failed) => {
    const controller = new AbortController()
    setMaxListeners(0, controller.signal) // one signal cancels all 10,000 calls
    const fn = async (): Promise<never> => {
      throw new Busy("busy")
    }
    const calls = Array.from({ length: waiting }, () => call(fn, controller.signal, failed).catch(() => {}))
    return () => {
      controller.abort()
      return Promise.all(calls)
    }
  })

const simulation = () => {
  const strategy = Fleet.byName("stack-defaults")
  const scenario: Fleet.Scenario = {
    name: "scale",
    n: simulatedClients,
    processes: 1,
    server: Fleet.server({ capacity: 1_000, burst: 1_000 })
  }
  const began = performance.now()
  const outcome = Fleet.simulate(scenario, strategy)
  const wall = (performance.now() - began) / 1000
  return {
    benchmark: `${simulatedClients.toLocaleString("en")} simulated clients, capacity 1,000/s`,
    "wall time, s": Number(wall.toFixed(1)),
    "simulated calls": outcome.calls,
    "simulated calls per wall second": Math.round(outcome.calls / wall),
    ...Fleet.row(outcome)
  }
}

export const run = async () => {
  const policy = { maxAttempts: 2, baseDelay: "10 seconds", maxDelay: "10 seconds" } as const
  // cockatiel reports retries per policy, not per call.
  let cockatielRetried = () => {}
  const cockatiel = cockatielRetry(handleAll, {
    maxAttempts: 1,
    backoff: new ExponentialBackoff({ initialDelay: 10_000, maxDelay: 10_000 })
  })
  cockatiel.onRetry(() => cockatielRetried())
  const rows: Array<Record<string, unknown>> = [
    await effectSleep(),
    await effectLayer(),
    await timerPromise(),
    await promises(
      "retry (this library's Promise bridge)",
      (fn, signal, onRetry) => retry(fn, { ...policy, retryOn: [Busy], signal, onRetry })
    ),
    await promises("cockatiel retry(...).execute", (fn, signal, onRetry) => {
      cockatielRetried = onRetry
      return cockatiel.execute(fn, signal)
    }),
    await promises(
      "p-retry",
      (fn, signal, onRetry) => pRetry(fn, { retries: 1, minTimeout: 10_000, signal, onFailedAttempt: onRetry })
    )
  ]
  report("scale", "Scale: calls waiting in backoff (real clock)", rows)
  report("simulation", "Scale: the fleet simulation", [simulation()])
}
