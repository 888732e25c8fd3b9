/**
 * What the code both Effect lines share (`src/core/`, linked here as `core/`) needs that Effect 3 and Effect 4
 * spell differently, in Effect 4's spelling. The Effect 3 line's `src/internal/compat.ts` has the same names.
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"

/** What a duration option accepts: a `Duration`, milliseconds, or text such as `"500 millis"`. */
export type DurationInput = Duration.Input

/**
 * A duration input decoded, if it is one. Effect 4 also reads an object of parts (`{ seconds: 1 }`, `{}` as
 * zero); Effect 3 does not, and an option read on both lines must mean the same, so such objects are refused.
 */
export const decodeDuration = (input: unknown): Option.Option<Duration.Duration> =>
  Duration.isDuration(input) || typeof input !== "object" || Array.isArray(input)
    ? Duration.fromInput(input as Duration.Input)
    : Option.none()

/** An object that is not an array (Effect 3's `Predicate.isRecord`, Effect 4's `Predicate.isObject`). */
export const isRecord: (u: unknown) => u is { readonly [x: string | symbol]: unknown } = Predicate.isObject

/** A value each fiber sees, set around an effect with `Effect.provideService`. */
export type Reference<A> = Context.Reference<A>

/** A fiber-local value with a default, one per `key` in the process. */
export const reference = <A>(key: string, initial: () => A): Reference<A> =>
  Context.Reference<A>(key, { defaultValue: initial })

/** The value of a reference in the current fiber. */
export const getReference = <A>(ref: Reference<A>): Effect.Effect<A> => Effect.service(ref)

/** An effect completed by a callback; the effect `register` returns, if any, runs when it is interrupted. */
export const async = <A>(
  register: (resume: (effect: Effect.Effect<A>) => void) => void | Effect.Effect<void>
): Effect.Effect<A> => Effect.callback<A>((resume) => register(resume))
