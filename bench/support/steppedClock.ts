import type { Duration } from "effect"
import { Clock, Effect } from "effect"

/**
 * A clock that stands still but for `advance` (a bench moves it by the interval between its calls, so the
 * limiter sees that rate without waiting for it), sleeping in real time.
 */
export const steppedClock = () => {
  let now = 1_700_000_000_000
  const clock: Clock.Clock = {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => now,
    unsafeCurrentTimeNanos: () => BigInt(Math.round(now * 1e6)),
    currentTimeMillis: Effect.sync(() => now),
    currentTimeNanos: Effect.sync(() => BigInt(Math.round(now * 1e6))),
    sleep: (d: Duration.Duration) => Effect.sleep(d).pipe(Effect.withClock(Clock.make()))
  }
  return {
    clock,
    advance: (millis: number) =>
      Effect.sync(() => {
        now += millis
      })
  }
}
