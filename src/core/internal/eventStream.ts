/**
 * AWS event-stream messages (Bedrock's `application/vnd.amazon.eventstream`), without Effect.
 */
import { EventStreamCodec } from "@smithy/eventstream-codec"
import { fromUtf8, toUtf8 } from "@smithy/util-utf8"
import * as ModelError from "../ModelError.js"
import type { Facts, Framer, WireEvent } from "./wire.js"

/**
 * The largest AWS event-stream message accepted: 4 MiB (the format's own limit is 16 MiB; a model's event is a
 * few hundred bytes). A larger declared length fails the stream before the message is buffered.
 */
export const maxMessageBytes = 4 * 1024 * 1024

/**
 * Messages from the reads of a body, each as an event: `event` is the `:event-type` (`contentBlockDelta`, ...)
 * or, for an exception, `exception:` and the `:exception-type`; `data` is the JSON payload.
 *
 * `@smithy/eventstream-codec` checks each message (prelude and message CRC32s, lengths) and reads its headers;
 * the framing is here: a message may arrive split across reads, or several in one. A message that fails its
 * checks is a `StreamError`, after the messages before it (in the same read too).
 */
export const messages = (facts: Facts): Framer<Uint8Array> => {
  const codec = new EventStreamCodec(toUtf8, fromUtf8)
  const decoder = new TextDecoder()
  // Reads not yet part of a whole message, kept as they came: a message split over many small reads is
  // copied once, when it is whole, so the cost stays linear in the bytes.
  const reads: Array<Uint8Array> = []
  let buffered = 0
  const failure = (why: string) =>
    new ModelError.StreamError({
      provider: facts.provider,
      ...(facts.requestId === undefined ? {} : { requestId: facts.requestId }),
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
  return (read) => {
    if (read.length > 0) {
      reads.push(read)
      buffered += read.length
    }
    const events: Array<WireEvent> = []
    const stop = (why: string) => ({ events, failure: failure(why) })
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
        events.push({ event: type, data: decoder.decode(message.body) })
      } catch (error) {
        return stop(error instanceof Error ? error.message : String(error))
      }
    }
    return { events, failure: undefined }
  }
}
