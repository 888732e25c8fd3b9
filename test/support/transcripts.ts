import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import type { CompletionModel } from "effect-retry-layer"
import type { InvalidOptions } from "effect-retry-layer"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"

/**
 * A transcript of a provider's published streaming format, served in a
 * framing: one write, 7-byte fragments, or CRLF line ends in 5-byte
 * fragments. Through the adapter, with a web `Response` over exactly those
 * pieces, so the framing is the test's, not the network's.
 */
export const framings = [
  ["one write", "\n", Infinity],
  ["7-byte fragments", "\n", 7],
  ["CRLF, 5-byte fragments", "\r\n", 5]
] as const

export const served = (...args: Parameters<typeof servedUntilEnd>) =>
  Effect.flatMap(servedUntilEnd(...args), ({ chunks, exit }) => Effect.as(exit, chunks))

/**
 * {@link served}, with the chunks delivered before a failure: every chunk
 * the stream gave, and how it ended.
 */
export const servedUntilEnd = (
  make: Effect.Effect<CompletionModel.Service, InvalidOptions, HttpClient.HttpClient>,
  transcript: string | Uint8Array,
  eol: string,
  size: number,
  contentType = "text/event-stream"
) => {
  const bytes = typeof transcript === "string" ? new TextEncoder().encode(transcript.replaceAll("\n", eol)) : transcript
  const pieces: Array<Uint8Array> = []
  for (let i = 0; i < bytes.length; i += size === Infinity ? bytes.length : size) {
    pieces.push(bytes.subarray(i, size === Infinity ? bytes.length : i + size))
  }
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const piece of pieces) controller.enqueue(piece)
      controller.close()
    }
  })
  return oneCall(make, body, contentType)
}

// One call through the adapter, over a client whose response is a 200 of `contentType` with `body`: every chunk
// the stream gave, and how it ended.
const oneCall = (
  make: Effect.Effect<CompletionModel.Service, InvalidOptions, HttpClient.HttpClient>,
  body: ReadableStream<Uint8Array>,
  contentType: string
) => {
  const client = HttpClient.make((request) =>
    Effect.succeed(HttpClientResponse.fromWeb(
      request,
      new Response(body, { status: 200, headers: { "content-type": contentType } })
    ))
  )
  return Effect.gen(function*() {
    const model = yield* make
    const stream = yield* model.chatStream({ messages: [{ role: "user", content: "hi" }] })
    const chunks: Array<CompletionModel.StreamChunk> = []
    const exit = yield* Effect.exit(Stream.runForEach(stream, (chunk) => Effect.sync(() => chunks.push(chunk))))
    return { chunks: chunks as ReadonlyArray<CompletionModel.StreamChunk>, exit }
  }).pipe(Effect.provideService(HttpClient.HttpClient, client))
}

/** SSE text from (event, data) pairs; `undefined` for a data-only event. */
export const sse = (events: ReadonlyArray<readonly [string | undefined, unknown]>) =>
  events.map(([event, data]) =>
    `${event === undefined ? "" : `event: ${event}\n`}data: ${
      typeof data === "string" ? data : JSON.stringify(data)
    }\n\n`
  ).join("")

/**
 * {@link served} for a stream too long to hold: `head`, then `piece(i)` for
 * i = 0, 1, ... until `total` bytes, each made only when the adapter reads
 * it. Returns the exit and how many bytes the adapter read.
 */
export const pulled = (
  make: Effect.Effect<CompletionModel.Service, InvalidOptions, HttpClient.HttpClient>,
  head: Uint8Array,
  piece: (i: number) => Uint8Array,
  total: number,
  contentType = "text/event-stream"
) => {
  let read = 0
  let i = 0
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      read += head.length
      controller.enqueue(head)
    },
    pull(controller) {
      if (read >= total) return controller.close()
      const next = piece(i++)
      read += next.length
      controller.enqueue(next)
    }
  }, { highWaterMark: 0 })
  return Effect.map(oneCall(make, body, contentType), ({ exit }) => ({ exit, read }))
}
