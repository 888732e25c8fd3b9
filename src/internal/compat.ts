/**
 * What the code both Effect lines share (`src/core/`) needs that Effect 3 and Effect 4 spell differently, in
 * Effect 3's spelling. The Effect 4 line has its own `internal/compat.ts` with the same names; everything else
 * in `src/core/` is written against what the two lines have in common.
 */
import * as Cause from "effect/Cause"
import type * as ConfigError_ from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import { globalValue } from "effect/GlobalValue"
import * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import type * as Scope from "effect/Scope"

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

/** A service's key, the identifier type `I` and the service `S`: a `Context.Tag` on Effect 3. */
export type Tag<I, S> = Context.Tag<I, S>

/** The key of a service, by its unique name. */
export const tag = <I, S = I>(key: string): Tag<I, S> => Context.GenericTag<I, S>(key)

/** A layer of one service built in a scope that lives as long as the layer (Effect 3's `Layer.scoped`). */
export const layerScoped = <I, S, E, R>(
  key: Tag<I, S>,
  build: Effect.Effect<S, E, R>
): Layer.Layer<I, E, Exclude<R, Scope.Scope>> => Layer.scoped(key, build)

/** A layer built by an effect that makes it (Effect 3's `Layer.unwrapEffect`). */
export const unwrapLayer: <A, E1, R1, E, R>(
  self: Effect.Effect<Layer.Layer<A, E1, R1>, E, R>
) => Layer.Layer<A, E | E1, R | R1> = Layer.unwrapEffect

/** `self` with `ref` set to `value` while it runs. */
export const locally: <A, E, R, V>(
  self: Effect.Effect<A, E, R>,
  ref: Reference<V>,
  value: V
) => Effect.Effect<A, E, R> = Effect.locally

/** `self`, failed with `onTimeout()` (and interrupted) if it runs longer than `duration`. */
export const timeoutFail = <A, E, R, E1>(
  self: Effect.Effect<A, E, R>,
  duration: Duration.Duration,
  onTimeout: () => E1
): Effect.Effect<A, E | E1, R> => Effect.timeoutFail(self, { duration, onTimeout })

/** Whether a cause is only interruptions. */
export const isInterruptedOnly: <E>(cause: Cause.Cause<E>) => boolean = Cause.isInterruptedOnly

/** The first failure of a cause, if it has one. */
export const failureOption: <E>(cause: Cause.Cause<E>) => Option.Option<E> = Cause.failureOption

/** What reading a `Config` fails with. */
export type ConfigError = ConfigError_.ConfigError
