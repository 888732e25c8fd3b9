/**
 * SSE parse throughput: MB/s through each adapter (bytes in, chunks out, no
 * network: the response is a web `Response` over the same bytes) for 1 MB of
 * a provider's published streaming format arriving in one read, and in 1 KB
 * reads; next to the official SDKs' parsers (`Stream.fromSSEResponse` of
 * `@anthropic-ai/sdk` and `openai`) over the same bytes. Median of 5 runs.
 */
import { Stream as AnthropicStream } from "@anthropic-ai/sdk/core/streaming"
import { HttpClient, HttpClientResponse } from "@effect/platform"
import { Effect, Redacted, Stream } from "effect"
import type { CompletionModel } from "effect-retry-layer"
import { Anthropic } from "effect-retry-layer/anthropic"
import { OpenAI } from "effect-retry-layer/openai"
import { FaultServer } from "effect-retry-layer/testing/server"
import { Stream as OpenAIStream } from "openai/core/streaming"
import { median, report } from "./support/report.js"

const megabyte = 1024 * 1024

// One turn of the given wire, as the server writes it, with as many text deltas as make about 1 MB.
const wire = (events: (pieces: ReadonlyArray<string>) => ReadonlyArray<FaultServer.StreamItem>) => {
  const encode = (count: number) =>
    new TextEncoder().encode(
      events(Array.from({ length: count }, (_, i) => `token ${i} `)).map((item) =>
        item._tag === "Event" ? `${item.event === undefined ? "" : `event: ${item.event}\n`}data: ${item.data}\n\n` : ""
      ).join("")
    )
  return encode(Math.round(megabyte / (encode(1000).length / 1000)))
}

const reads = (bytes: Uint8Array, size: number): Array<Uint8Array> => {
  const out: Array<Uint8Array> = []
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size))
  return out
}

const response = (chunks: ReadonlyArray<Uint8Array>) =>
  new Response(
    new ReadableStream<Uint8Array>({
      start(controller) {
        for (const chunk of chunks) controller.enqueue(chunk)
        controller.close()
      }
    }),
    { status: 200, headers: { "content-type": "text/event-stream" } }
  )

// The adapter over an HttpClient that answers with the bytes; the time to run its stream to the end.
const adapter = (
  make: (client: HttpClient.HttpClient) => Effect.Effect<CompletionModel.Service, unknown>,
  chunks: ReadonlyArray<Uint8Array>
) =>
  Effect.gen(function*() {
    const client = HttpClient.make((request) => Effect.succeed(HttpClientResponse.fromWeb(request, response(chunks))))
    const model = yield* make(client)
    const started = performance.now()
    const stream = yield* model.chatStream({ messages: [{ role: "user", content: "hi" }] })
    const count = yield* Stream.runCount(stream)
    return { millis: performance.now() - started, count }
  }).pipe(Effect.orDie)

const sdk = async (
  fromSSEResponse: (response: Response, controller: AbortController) => AsyncIterable<unknown>,
  chunks: ReadonlyArray<Uint8Array>
) => {
  const started = performance.now()
  let count = 0
  for await (const _ of fromSSEResponse(response(chunks), new AbortController())) count++
  return { millis: performance.now() - started, count }
}

const key = Redacted.make("sk-bench")
const providers = [
  {
    name: "Anthropic",
    bytes: wire(FaultServer.anthropicEvents),
    ours: (client: HttpClient.HttpClient) =>
      Anthropic.make({ apiKey: key, model: "m", baseUrl: "http://127.0.0.1" }).pipe(
        Effect.provideService(HttpClient.HttpClient, client)
      ),
    official: (r: Response, c: AbortController) => AnthropicStream.fromSSEResponse(r, c),
    sdkName: "@anthropic-ai/sdk"
  },
  {
    name: "OpenAI",
    bytes: wire(FaultServer.openAiEvents),
    ours: (client: HttpClient.HttpClient) =>
      OpenAI.make({ apiKey: key, model: "m", baseUrl: "http://127.0.0.1" }).pipe(
        Effect.provideService(HttpClient.HttpClient, client)
      ),
    official: (r: Response, c: AbortController) => OpenAIStream.fromSSEResponse(r, c),
    sdkName: "openai"
  }
] as const

export const run = async () => {
  const rows: Array<Record<string, unknown>> = []
  for (const provider of providers) {
    for (const [readName, size] of [["one 1 MB read", Infinity], ["1 KB reads", 1024]] as const) {
      const chunks = reads(provider.bytes, size === Infinity ? provider.bytes.length : size)
      const mb = provider.bytes.length / megabyte
      const ours: Array<number> = []
      const theirs: Array<number> = []
      for (let i = 0; i < 5; i++) {
        ours.push((await Effect.runPromise(adapter(provider.ours, chunks))).millis)
        theirs.push((await sdk(provider.official, chunks)).millis)
      }
      rows.push({
        provider: provider.name,
        reads: readName,
        MB: Number(mb.toFixed(2)),
        "this library MB/s": Math.round(mb / (median(ours) / 1000)),
        [`official SDK MB/s`]: Math.round(mb / (median(theirs) / 1000)),
        sdk: provider.sdkName
      })
    }
  }
  report("sse", "SSE parse throughput, MB/s (median of 5)", rows)
}
