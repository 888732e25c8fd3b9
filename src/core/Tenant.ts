/**
 * A call's tenant: the customer it is made for, when several share one
 * provider key. While calls of several tenants wait for send slots, each
 * tenant gets the key's sends in proportion to its weight (default 1), so one
 * tenant's burst does not take the whole key; a tenant with nothing waiting
 * leaves its share to the others, and when it comes back it gets its share
 * from then on (no catching up for the time it was away). Priorities come
 * first (`Priority`); fairness is between the tenants of one class. Calls
 * that name no tenant are one tenant of weight 1.
 *
 * The order holds among the calls waiting in one process, and across the
 * processes sharing the limiter's key through the `FleetStore`: a process
 * asks for its next tenant's slot, naming its other tenants waiting too, and
 * the store holds back a tenant that has had more than its share while
 * another one waits, giving the slot to the first of the others whose turn
 * it is.
 *
 * A key is a string of 1 to {@link maxKeyLength} (64) characters, a weight a
 * number from 0.01 to 100; anything else is a defect, `InvalidOptions`, when
 * the call runs.
 *
 * @example
 * ```ts
 * import type { Effect } from "effect"
 * import { Tenant } from "effect-retry-layer"
 *
 * // a model call through the stack's layer
 * declare const summarize: Effect.Effect<string, Error>
 *
 * // This customer pays for twice the share of the key.
 * const forAcme = summarize.pipe(Tenant.withTenant({ key: "acme", weight: 2 }))
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import { getReference, locally, type Reference, reference } from "../internal/compat.js"
import { show } from "./internal/duration.js"
import { orDefect } from "./internal/invalidOptions.js"
import * as Fields from "./internal/optionFields.js"

/**
 * A tenant: its key and its weight.
 *
 * @category models
 * @since 0.1.0
 */
export interface Tenant {
  readonly key: string
  readonly weight: number
}

/**
 * The longest tenant key.
 *
 * @category constants
 * @since 0.1.0
 */
export const maxKeyLength = 64

/**
 * `self` with the calls it makes for `tenant`: its key (weight 1), or its key and weight.
 *
 * @category combinators
 * @since 0.1.0
 */
export const withTenant: {
  (tenant: string | Tenant): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, tenant: string | Tenant): Effect.Effect<A, E, R>
} = dual(
  2,
  <A, E, R>(self: Effect.Effect<A, E, R>, tenant: string | Tenant): Effect.Effect<A, E, R> =>
    orDefect(() => {
      const given = typeof tenant === "string" ? { key: tenant, weight: 1 } : tenant
      return locally(self, currentTenant, { key: readKey(given.key), weight: readWeight(given.weight) })
    })
)

/**
 * The tenant set around the current fiber's calls (`undefined`: none).
 *
 * @category getters
 * @since 0.1.0
 */
export const get: Effect.Effect<Tenant | undefined> = Effect.suspend(() => getReference(currentTenant))

// Internals -------------------------------------------------------------------

const readKey = Fields.argument<string>(
  "Tenant",
  "key",
  Fields.checking((key) =>
    typeof key === "string" && key.length > 0 && key.length <= maxKeyLength
      ? undefined
      : `expected a string of 1 to ${maxKeyLength} characters, got ${show(key)}`
  )
)

const readWeight = Fields.argument<number>(
  "Tenant",
  "weight",
  Fields.checking((weight) =>
    typeof weight === "number" && weight >= 0.01 && weight <= 100
      ? undefined
      : `expected a number from 0.01 to 100, got ${show(weight)}`
  )
)

const currentTenant: Reference<Tenant | undefined> = reference<Tenant | undefined>(
  "effect-retry-layer/Tenant/current",
  () => undefined
)
