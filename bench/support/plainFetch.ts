/**
 * A call with plain retries' tools: `fetch` of one streamed Anthropic message
 * from a loopback server, read to the end. A non-2xx answer throws an
 * {@link HttpError} that classifies itself (with the server's Retry-After) for
 * this library's Promise bridge; cockatiel and p-retry retry it as any error.
 */
import { Duration } from "effect"
import { Retryable } from "effect-retry-layer"

/** A non-2xx answer; it classifies itself, with the server's Retry-After, for this library's bridge. */
export class HttpError extends Error {
  constructor(readonly status: number, readonly retryAfterMillis: number | undefined) {
    super(`HTTP ${status}`)
  }
  [Retryable.symbol]() {
    return this.status === 429 || this.status >= 500
      ? Retryable.transient(this.retryAfterMillis === undefined ? undefined : Duration.millis(this.retryAfterMillis))
      : Retryable.permanent
  }
}

const body = JSON.stringify({ model: "m", max_tokens: 16, stream: true, messages: [{ role: "user", content: "hi" }] })

export const fetchOnce = (url: string) => async () => {
  const response = await fetch(`${url}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": "bench", "anthropic-version": "2023-06-01" },
    body
  })
  const text = await response.text()
  if (!response.ok) {
    const retryAfter = Number(response.headers.get("retry-after"))
    throw new HttpError(response.status, Number.isFinite(retryAfter) ? retryAfter * 1000 : undefined)
  }
  return text
}
