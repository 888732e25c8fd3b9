import { retry, retryable } from "effect-retry-layer/promise"
import * as Duration from "effect/Duration"

// Code outside Effect: the same schedule, classification and Retry-After floor, with an AbortSignal.
class HttpError extends Error {
  constructor(readonly status: number) {
    super(`HTTP ${status}`)
  }
}
const transientStatus = (error: unknown) => error instanceof HttpError && (error.status === 429 || error.status >= 500)

let calls = 0
const flaky = async () => {
  if (++calls < 3) throw new HttpError(503)
  return "ok"
}

class Inventory {
  constructor(readonly name: string) {}

  @retryable({ maxAttempts: 3, baseDelay: "10 millis", retryOn: transientStatus })
  async count() {
    if (++calls % 2 === 1) throw new HttpError(429)
    return `${this.name}: 3 left`
  }
}

const controller = new AbortController()
const answer = await retry(flaky, {
  maxAttempts: 4,
  baseDelay: "10 millis",
  retryOn: transientStatus,
  signal: controller.signal,
  onRetry: ({ attempt, delay, error }) =>
    console.log(`attempt ${attempt} failed (${error}); waiting ${Math.round(Duration.toMillis(delay))} ms`)
})
console.log(`${answer} after ${calls} calls; ${await new Inventory("widgets").count()}`)
