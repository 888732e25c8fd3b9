/**
 * Happy-path overhead: what the retry layer costs when the first call succeeds.
 *
 * Each sample runs N acquisitions in one fiber, so the figure is the per-call
 * cost of the wrapper, not the cost of starting a runtime.
 */
import { Effect, Stream } from "effect"
import { CompletionModel, RetryingModel, RetrySchedule } from "effect-retry-layer"
import { Bench } from "tinybench"
import { report } from "./report.js"

const N = 1_000
const request: CompletionModel.ChatRequest = { messages: [{ role: "user", content: "hi" }] }
const stream = Stream.make(CompletionModel.StreamChunk.TextDelta({ text: "x" }))
const bare: CompletionModel.Service = { name: "bare", model: "m", chatStream: () => Effect.succeed(stream) }

const calls = (chatStream: CompletionModel.Service["chatStream"]) =>
  Effect.gen(function*() {
    for (let i = 0; i < N; i++) yield* chatStream(request)
  })

export const run = async () => {
  const retrying = RetryingModel.make(bare)
  const schedule = RetrySchedule.make()
  const tasks = {
    "bare inner model": calls(bare.chatStream),
    "RetryingModel (this library)": calls(retrying.chatStream),
    "RetryingModel, tracing disabled": calls(retrying.chatStream).pipe(Effect.withTracerEnabled(false)),
    "Effect.retry(inner, RetrySchedule.make())": calls((r) => Effect.retry(bare.chatStream(r), schedule))
  }
  const bench = new Bench({ time: 2_000, warmup: true })
  for (const [name, effect] of Object.entries(tasks)) bench.add(name, () => Effect.runSync(effect))
  await bench.run()
  const nsPerCall = (name: string) => {
    const result = bench.getTask(name)?.result
    if (result?.state !== "completed") throw new Error(`benchmark ${name} did not complete`)
    return (result.latency.mean * 1e6) / N
  }
  const bareNs = nsPerCall("bare inner model")
  report(
    "overhead",
    `Happy-path overhead of chatStream acquisition (${N} calls per sample)`,
    Object.keys(tasks).map((name) => ({
      variant: name,
      "ns/call": Number(nsPerCall(name).toFixed(1)),
      "calls/s": Math.round(1e9 / nsPerCall(name)),
      "x bare": Number((nsPerCall(name) / bareNs).toFixed(2))
    }))
  )
}
