/**
 * What the code both Effect lines share (`src/core/`, linked here as `core/`) needs that Effect 3 and Effect 4
 * spell differently, in Effect 4's spelling. The Effect 3 line's `src/internal/compat.ts` has the same names.
 */
import * as Cause from "effect/Cause"
import type * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import type * as Scope from "effect/Scope"

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

/** A service's key, the identifier type `I` and the service `S`: a `Context.Service` on Effect 4. */
export type Tag<I, S> = Context.Service<I, S>

/** The key of a service, by its unique name. */
export const tag = <I, S = I>(key: string): Tag<I, S> => Context.Service<I, S>(key)

/** A layer of one service built in a scope that lives as long as the layer (Effect 4's `Layer.effect`). */
export const layerScoped = <I, S, E, R>(
  key: Tag<I, S>,
  build: Effect.Effect<S, E, R>
): Layer.Layer<I, E, Exclude<R, Scope.Scope>> => Layer.effect(key, build)

/** A layer built by an effect that makes it (Effect 4's `Layer.unwrap`). */
export const unwrapLayer = <A, E1, R1, E, R>(
  self: Effect.Effect<Layer.Layer<A, E1, R1>, E, R>
): Layer.Layer<A, E | E1, Exclude<R, Scope.Scope> | R1> => Layer.unwrap(self)

/** `self` with `ref` set to `value` while it runs. */
export const locally = <A, E, R, V>(
  self: Effect.Effect<A, E, R>,
  ref: Reference<V>,
  value: V
): Effect.Effect<A, E, R> => Effect.provideService(self, ref, value)

/** `self`, failed with `onTimeout()` (and interrupted) if it runs longer than `duration`. */
export const timeoutFail = <A, E, R, E1>(
  self: Effect.Effect<A, E, R>,
  duration: Duration.Duration,
  onTimeout: () => E1
): Effect.Effect<A, E | E1, R> => Effect.timeoutOrElse(self, { duration, orElse: () => Effect.fail(onTimeout()) })

/** Whether a cause is only interruptions. */
export const isInterruptedOnly: <E>(cause: Cause.Cause<E>) => boolean = Cause.hasInterruptsOnly

/** The first failure of a cause, if it has one. */
export const failureOption: <E>(cause: Cause.Cause<E>) => Option.Option<E> = Cause.findErrorOption

/** What reading a `Config` fails with. */
export type ConfigError = Config.ConfigError
