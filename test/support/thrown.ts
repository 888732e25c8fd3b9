import * as HttpClient from "@effect/platform/HttpClient"
import { CompletionModel, FleetStore } from "effect-retry-layer"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"

export { thrown } from "./throws.js"

// What a layer of this library may need to be built: a model and a store (neither is called).
const requirements = Layer.mergeAll(
  FleetStore.layerMemory,
  Layer.succeed(CompletionModel.CompletionModel, { name: "m", model: "m", chatStream: () => Effect.die("not called") })
)

/**
 * What an Effect (a `make`, or a layer's `Layer.build`) fails with, or `undefined` if it succeeds: for checking
 * that options are refused in the error channel. A defect is thrown, not returned.
 */
export const failureOf = async (
  effect: Effect.Effect<unknown, unknown, CompletionModel.CompletionModel | FleetStore.FleetStore | Scope.Scope>
): Promise<unknown> => {
  const exit = await Effect.runPromiseExit(effect.pipe(Effect.scoped, Effect.provide(requirements)))
  if (Exit.isSuccess(exit)) return undefined
  return Option.getOrThrowWith(Cause.failureOption(exit.cause), () => Cause.squash(exit.cause))
}

/** What building `layer` fails with (its model and store given), or `undefined` if it builds. */
export const buildFailure = <A, E, R extends CompletionModel.CompletionModel | FleetStore.FleetStore>(
  layer: Layer.Layer<A, E, R>
): Promise<unknown> => failureOf(Layer.build(layer))

/** What building an adapter's layer fails with (an HttpClient given, never called), or `undefined` if it builds. */
export const adapterFailure = <A, E>(layer: Layer.Layer<A, E, HttpClient.HttpClient>): Promise<unknown> =>
  failureOf(
    Layer.build(layer).pipe(
      Effect.provideService(HttpClient.HttpClient, HttpClient.make(() => Effect.die("not called")))
    )
  )
