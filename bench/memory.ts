/**
 * Memory per call waiting its turn: 10,000 calls at once through the recommended stack
 * (`ResilientModel.layer()` defaults, the in-memory store, a clock that stands still so that no slot frees) over
 * a model that never answers, so all but the burst wait in the limiter's line; beside p-limit(1) and
 * cockatiel's bulkhead (one at a time, the rest queued), each holding the same 10,000 calls, and the floor of
 * any Effect caller: a fiber of its own doing nothing (`Effect.never`), forked the same way. The heap after a
 * full GC with the calls waiting, less the heap before, over the calls.
 */
import { bulkhead } from "cockatiel"
import { Effect, Fiber, Layer, Logger, LogLevel, ManagedRuntime } from "effect"
import { CompletionModel, FleetStore, ResilientModel } from "effect-retry-layer"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import pLimit from "p-limit"
import { median, report } from "./support/report.js"
import { steppedClock } from "./support/steppedClock.js"

const waiting = 10_000
const request: CompletionModel.ChatRequest = { messages: [{ role: "user", content: "hi" }] }

const heapAfterGc = () => {
  setFlagsFromString("--expose-gc")
  const gc = runInNewContext("gc") as () => void
  gc()
  gc()
  return process.memoryUsage().heapUsed
}
// Long enough for the limiter's first call to be given up on (2 s) and the burst to go.
const settle = () => new Promise((resolve) => setTimeout(resolve, 3_000))

const never: CompletionModel.Service = { name: "never", model: "m", chatStream: () => Effect.never }

const stackRow = async (
  variant: string,
  tracing: boolean,
  layer: Layer.Layer<
    CompletionModel.CompletionModel,
    unknown,
    CompletionModel.CompletionModel | FleetStore.FleetStore
  > = ResilientModel.layer()
) => {
  const { clock } = steppedClock()
  const runtime = ManagedRuntime.make(
    layer.pipe(
      Layer.provide(Layer.succeed(CompletionModel.CompletionModel, never)),
      Layer.provide(FleetStore.layerMemory),
      Layer.provide(Logger.minimumLogLevel(LogLevel.None))
    )
  )
  const model = await runtime.runPromise(CompletionModel.CompletionModel)
  const before = heapAfterGc()
  const fibers = Array.from(
    { length: waiting },
    () => runtime.runFork(model.chatStream(request).pipe(Effect.withTracerEnabled(tracing), Effect.withClock(clock)))
  )
  await settle()
  const bytes = (heapAfterGc() - before) / waiting
  await runtime.runPromise(Fiber.interruptAll(fibers))
  await runtime.dispose()
  return { variant, bytes }
}

// The median of three runs, each with a queue of its own: a promise queue's few hundred bytes a call are within
// what a collection left over from a bench before it can move once.
const promiseRow = async (variant: string, make: () => (call: () => Promise<unknown>) => Promise<unknown>) => {
  const runs: Array<number> = []
  const held: Array<unknown> = []
  for (let run = 0; run < 3; run++) {
    const queue = make()
    const before = heapAfterGc()
    const pending = Array.from({ length: waiting }, () => queue(() => new Promise(() => {})).catch(() => {}))
    await settle()
    const bytes = (heapAfterGc() - before) / waiting
    // the queue and its calls held to here, so that they are not collected before they are measured
    held.push(queue, pending)
    runs.push(bytes)
  }
  held.length = 0
  return { variant, bytes: median(runs) }
}

export const run = async () => {
  const rows = [
    await promiseRow("p-limit(1)", () => {
      const limit = pLimit(1)
      return (call) => limit(call)
    }),
    await promiseRow("cockatiel bulkhead(1, Infinity)", () => {
      const queued = bulkhead(1, Number.POSITIVE_INFINITY)
      return (call) => queued.execute(call)
    }),
    await stackRow(
      "a bare Effect fiber (the model itself, never answering)",
      false,
      Layer.effect(CompletionModel.CompletionModel, CompletionModel.CompletionModel)
    ),
    await stackRow("ResilientModel.layer() defaults, tracing on", true),
    await stackRow("ResilientModel.layer() defaults, tracing off", false)
  ]
  report(
    "memory",
    `Memory per call waiting its turn (${waiting.toLocaleString("en")} calls at once)`,
    rows.map((r) => ({ variant: r.variant, "bytes per waiting call": Math.round(r.bytes) }))
  )
}
