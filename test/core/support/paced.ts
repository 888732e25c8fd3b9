/**
 * What the limiter's ordering tests (priorities, deadlines, tenants) share: a limiter that sends 10 calls a
 * second, one at a time, whatever the server says, so that the order of sends is all a test looks at; and a send
 * as they record it.
 */
import type { AdaptiveRateLimiter } from "effect-retry-layer"

export const paced: AdaptiveRateLimiter.Options.Input = {
  key: "k",
  initialRate: 10,
  maxRate: 10,
  burst: 1,
  rateLimitHeaders: false
}

/** A send: whose (a label, or a tenant's key), and when. */
export interface Send {
  readonly label: string
  readonly at: number
}
