import { Data, Duration, Effect } from "effect"
import { Retryable, RetryAcquisition } from "effect-retry-layer"

// An error of your own joins in by saying whether it is safe to retry, and when.
class Busy extends Data.TaggedError("Busy")<{ readonly waitMs: number }> {
  [Retryable.symbol]() {
    return Retryable.transient(Duration.millis(this.waitMs))
  }
}

let calls = 0
const call = Effect.suspend(() => ++calls < 3 ? Effect.fail(new Busy({ waitMs: 30 })) : Effect.succeed("done"))

const result = await Effect.runPromise(RetryAcquisition.retryAcquisition(call, { baseDelay: "10 millis" }))
console.log(`${result} after ${calls} calls`)
