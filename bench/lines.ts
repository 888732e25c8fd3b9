/**
 * `npm run bench -- lines`: the per-call cost of the retry layer over a `LanguageModel` that answers at once, on
 * each Effect line, in one run on one machine: the Effect 3 line here (`@effect/ai` 0.37), the Effect 4 line by
 * effect4/bench/languageModel.ts (`effect/ai` 4.1.5, on effect4/dist: the package's own name, resolved from inside it) in a child process with its own `effect`.
 * Each figure is against the same line's bare model: effect/ai's own cost differs between the majors.
 */
import * as LanguageModel from "@effect/ai/LanguageModel"
import type * as Response from "@effect/ai/Response"
import { Effect, Layer, ManagedRuntime, Stream } from "effect"
import { RetryingLanguageModel } from "effect-retry-layer/ai"
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { measure, type Row } from "./support/perCall.js"
import { report } from "./support/report.js"

const batch = 1_000
const usage = { inputTokens: 3, outputTokens: 2, totalTokens: 5 }
const parts: Array<Response.StreamPartEncoded> = [
  { type: "text-start", id: "t" },
  { type: "text-delta", id: "t", delta: "hello" },
  { type: "text-end", id: "t" },
  { type: "finish", reason: "stop", usage }
]
const bare = Layer.effect(
  LanguageModel.LanguageModel,
  LanguageModel.make({
    generateText: () => Effect.succeed([{ type: "text", text: "hello" }, { type: "finish", reason: "stop", usage }]),
    streamText: () => Stream.fromIterable(parts)
  })
)
const retrying = RetryingLanguageModel.layer().pipe(Layer.provide(bare))

const batchOf = (call: Effect.Effect<unknown, unknown, LanguageModel.LanguageModel>) =>
  Effect.gen(function*() {
    for (let i = 0; i < batch; i++) yield* call
  })
const text = batchOf(LanguageModel.generateText({ prompt: "hi" }))
const stream = batchOf(Stream.runDrain(LanguageModel.streamText({ prompt: "hi" })))

const effect3 = async (): Promise<Array<Row>> => {
  const plain = ManagedRuntime.make(bare)
  const wrapped = ManagedRuntime.make(retrying)
  const rows = [
    ...await measure("Effect 3: generateText, no I/O", "bare LanguageModel", {
      "bare LanguageModel": () => plain.runPromise(text),
      "RetryingLanguageModel": () => wrapped.runPromise(text)
    }, batch),
    ...await measure("Effect 3: streamText drained, no I/O", "bare LanguageModel", {
      "bare LanguageModel": () => plain.runPromise(stream),
      "RetryingLanguageModel": () => wrapped.runPromise(stream)
    }, batch)
  ]
  await Promise.all([plain.dispose(), wrapped.dispose()])
  return rows
}

const effect4 = async (): Promise<Array<Row>> => {
  const script = fileURLToPath(new URL("../effect4/bench/languageModel.ts", import.meta.url))
  const tsx = fileURLToPath(new URL("../node_modules/tsx/dist/cli.mjs", import.meta.url))
  const { stdout } = await promisify(execFile)(process.execPath, [tsx, "--tsconfig", "bench/tsconfig.json", script], {
    cwd: fileURLToPath(new URL("../effect4/", import.meta.url)),
    maxBuffer: 1024 * 1024
  })
  return JSON.parse(stdout.trim().split("\n").at(-1)!) as Array<Row>
}

export const run = async () => {
  const rows = [...await effect3(), ...await effect4()]
  const base = new Map(rows.filter((row) => row.variant === row.baseline).map((row) => [row.group, row.nsPerCall]))
  report(
    "lines",
    "The retry layer over a LanguageModel that answers at once, per call, on each Effect line",
    rows.map((row) => ({
      group: row.group,
      variant: row.variant,
      "us/call": Math.round(row.nsPerCall / 100) / 10,
      "added us/call": Math.round((row.nsPerCall - base.get(row.group)!) / 100) / 10,
      "x bare": Math.round((row.nsPerCall / base.get(row.group)!) * 100) / 100
    }))
  )
}
