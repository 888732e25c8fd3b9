// Free of Effect's line-specific APIs: ForeignError's tests on both lines read classifications with these.
import { ForeignError } from "effect-retry-layer"
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"

/** The hint a foreign error's classification carries, in milliseconds. */
export const hint = (error: unknown): number | undefined =>
  Option.getOrUndefined(
    Option.flatMap(ForeignError.classify(error), (c) =>
      c._tag === "Transient" ? Option.map(c.retryAfter, Duration.toMillis) : Option.none())
  )

/** The tag a foreign error is read as. */
export const tagOf = (error: unknown) => ForeignError.recognize(error)?.tag
