/**
 * What the code both Effect lines share (`src/core/`) needs that Effect 3 and Effect 4 spell differently, in
 * Effect 3's spelling. The Effect 4 line has its own `internal/compat.ts` with the same names; everything else
 * in `src/core/` is written against what the two lines have in common.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import { globalValue } from "effect/GlobalValue"
import type * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"

/** What a duration option accepts: a `Duration`, milliseconds, or text such as `"500 millis"`. */
export type DurationInput = Duration.DurationInput

/** A duration input decoded, if it is one. */
export const decodeDuration = (input: unknown): Option.Option<Duration.Duration> => Duration.decodeUnknown(input)

/** An object that is not an array (Effect 3's `Predicate.isRecord`, Effect 4's `Predicate.isObject`). */
export const isRecord: (u: unknown) => u is { readonly [x: string | symbol]: unknown } = Predicate.isRecord

/** A value each fiber sees, set around an effect with {@link locally}. */
export type Reference<A> = FiberRef.FiberRef<A>

/** A fiber-local value with a default, one per `key` in the process. */
export const reference = <A>(key: string, initial: () => A): Reference<A> =>
  globalValue(Symbol.for(key), () => FiberRef.unsafeMake(initial()))

/** The value of a reference in the current fiber. */
export const getReference = <A>(ref: Reference<A>): Effect.Effect<A> => FiberRef.get(ref)

/** An effect completed by a callback; the effect `register` returns, if any, runs when it is interrupted. */
export const async = <A>(
  register: (resume: (effect: Effect.Effect<A>) => void) => void | Effect.Effect<void>
): Effect.Effect<A> => Effect.async<A>((resume) => register(resume))
