/**
 * Provider transcripts for tests of both lines (no Effect here: linked into the Effect 4 line's test/support).
 */

/**
 * A transcript of a provider's published streaming format, served in a
 * framing: one write, 7-byte fragments, or CRLF line ends in 5-byte
 * fragments. The pieces are the test's, not the network's.
 */
export const framings = [
  ["one write", "\n", Infinity],
  ["7-byte fragments", "\n", 7],
  ["CRLF, 5-byte fragments", "\r\n", 5]
] as const

/** SSE text from (event, data) pairs; `undefined` for a data-only event. */
export const sse = (events: ReadonlyArray<readonly [string | undefined, unknown]>) =>
  events.map(([event, data]) =>
    `${event === undefined ? "" : `event: ${event}\n`}data: ${
      typeof data === "string" ? data : JSON.stringify(data)
    }\n\n`
  ).join("")
