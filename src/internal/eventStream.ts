import type * as Sse from "@effect/experimental/Sse"
import { EventStreamCodec } from "@smithy/eventstream-codec"
import { fromUtf8, toUtf8 } from "@smithy/util-utf8"
import * as Stream from "effect/Stream"
import * as ModelError from "../core/ModelError.js"

/**
 * The largest AWS event-stream message accepted: 4 MiB (the format's own
 * limit is 16 MiB; a model's event is a few hundred bytes). A larger declared
 * length fails the stream before the message is buffered.
 *
 * @internal
 */
export const maxMessageBytes = 4 * 1024 * 1024

/**
 * AWS event-stream messages (Bedrock's `application/vnd.amazon.eventstream`)
 * from bytes, the messages of each read together, each as an event: `event`
 * is the `:event-type` (`contentBlockDelta`, ...) or, for an exception,
 * `exception:` and the `:exception-type`; `data` is the JSON payload.
 *
 * `@smithy/eventstream-codec` checks each message (prelude and message
 * CRC32s, lengths) and reads its headers; the framing is here: a message may
 * arrive split across reads, or several in one. A message that fails its
 * checks is a `StreamError`, after the messages before it (in the same read
 * too).
 *
 * @internal
 */
export const messagesPerRead = (facts: { readonly provider: string; readonly requestId?: string }) =>
<E, R>(
  bytes: Stream.Stream<Uint8Array, E, R>
): Stream.Stream<ReadonlyArray<Sse.Event>, E | ModelError.ModelError, R> =>
  Stream.suspend(() => {
    const codec = new EventStreamCodec(toUtf8, fromUtf8)
    const decoder = new TextDecoder()
    // Reads not yet part of a whole message, kept as they came: a message split over many small reads is
    // copied once, when it is whole, so the cost stays linear in the bytes.
    const reads: Array<Uint8Array> = []
    let buffered = 0
    const failure = (why: string) =>
      new ModelError.StreamError({
        ...facts,
        message: `${facts.provider}: a malformed event-stream message (${why})`
      })
    // The next `n` buffered bytes, taken out of the reads.
    const take = (n: number): Uint8Array => {
      const out = new Uint8Array(n)
      let filled = 0
      while (filled < n) {
        const head = reads[0]!
        const used = Math.min(head.length, n - filled)
        out.set(head.subarray(0, used), filled)
        filled += used
        if (used === head.length) reads.shift()
        else reads[0] = head.subarray(used)
      }
      buffered -= n
      return out
    }
    const peekLength = (): number => {
      const prelude = new Uint8Array(4)
      let filled = 0
      for (const read of reads) {
        const used = Math.min(read.length, 4 - filled)
        prelude.set(read.subarray(0, used), filled)
        filled += used
        if (filled === 4) break
      }
      return new DataView(prelude.buffer).getUint32(0, false)
    }
    // The first malformed message: the read's messages before it are still delivered, then the stream fails.
    let failed: ModelError.ModelError | undefined
    const feed = (read: Uint8Array): Array<Sse.Event> => {
      if (read.length > 0) {
        reads.push(read)
        buffered += read.length
      }
      const events: Array<Sse.Event> = []
      const stop = (why: string) => {
        failed = failure(why)
        return events
      }
      while (buffered >= 4) {
        const length = peekLength()
        if (length > maxMessageBytes) return stop(`a message of ${length} bytes is over ${maxMessageBytes}`)
        if (length < 16) return stop(`a message length of ${length}`)
        if (buffered < length) break
        try {
          const message = codec.decode(take(length))
          const header = (name: string) => {
            const value = message.headers[name]?.value
            return typeof value === "string" ? value : undefined
          }
          const kind = header(":message-type")
          const type = kind === "exception" || kind === "error"
            ? `exception:${header(":exception-type") ?? header(":error-code") ?? "unknown"}`
            : header(":event-type") ?? "unknown"
          events.push({ _tag: "Event", event: type, id: undefined, data: decoder.decode(message.body) })
        } catch (error) {
          return stop(error instanceof Error ? error.message : String(error))
        }
      }
      return events
    }
    return bytes.pipe(
      Stream.map(feed),
      Stream.takeUntil(() => failed !== undefined),
      Stream.concat(Stream.suspend(() => failed === undefined ? Stream.empty : Stream.fail(failed)))
    )
  })
