import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import type { CompletionModel } from "effect-retry-layer"
import type { InvalidOptions } from "effect-retry-layer"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"

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
