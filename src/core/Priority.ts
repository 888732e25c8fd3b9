/**
 * A call's priority: while calls wait for a send slot, the limiter sends the
 * higher class first, in this process and, through the `FleetStore`, across
 * every process sharing its key. The order is work-conserving (a lower class
 * takes every slot the higher ones leave) and never starves a class: while a
 * class has calls waiting, at least one send slot in {@link starvationBound}
 * goes to it (one in ten).
 *
 * The classes are `"batch"` (0), `"default"` (1), `"interactive"` (2), or a
 * whole number from 0 to {@link highest} (9): higher goes first. A call's own
 * priority ({@link withPriority}, set around it) wins over its layer's (the
 * limiter's `priority` option, `"default"` unless set). Retries keep the
 * priority of their call. Within a class, calls go in arrival order.
 *
 * @example
 * ```ts
 * import type { Effect } from "effect"
 * import { Priority } from "effect-retry-layer"
 *
 * // a model call through the stack's layer (a CompletionModel's, a LanguageModel's)
 * declare const answerUser: Effect.Effect<string, Error>
 *
 * // A user's chat message goes before the nightly batch queued on the same key.
 * const reply = answerUser.pipe(Priority.withPriority("interactive"))
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import { getReference, locally, type Reference, reference } from "../internal/compat.js"
import { show } from "./internal/duration.js"
import { highestPriority, starvationBound as bound } from "./internal/fleetSteps.js"
import { orDefect } from "./internal/invalidOptions.js"
import * as Fields from "./internal/optionFields.js"

/**
 * A priority as a caller says it: a class's name or its number.
 *
 * @category models
 * @since 0.1.0
 */
export type Priority = "batch" | "default" | "interactive" | number

/**
 * The numbers of the named classes.
 *
 * @category constants
 * @since 0.1.0
 */
export const classes: { readonly batch: 0; readonly default: 1; readonly interactive: 2 } = {
  batch: 0,
  default: 1,
  interactive: 2
}

/**
 * The highest priority (the lowest is 0): ten classes at most, so that what the store keeps of them is bounded.
 *
 * @category constants
 * @since 0.1.0
 */
export const highest: typeof highestPriority = highestPriority

/**
 * While a class has calls waiting, at least one send slot in this many goes to it (the others having been
 * served ahead of it): the bound on a lower class's wait under endless higher-priority work.
 *
 * @category constants
 * @since 0.1.0
 */
export const starvationBound: typeof bound = bound

/**
 * `self` with the calls it makes at `priority` (over its layer's). An invalid priority (not a class's name,
 * not a whole number from 0 to 9) is a defect, `InvalidOptions`, when `self` runs.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Priority } from "effect-retry-layer"
 *
 * declare const nightlyReport: Effect.Effect<void>
 * const background = nightlyReport.pipe(Priority.withPriority("batch"))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const withPriority: {
  (priority: Priority): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, priority: Priority): Effect.Effect<A, E, R>
} = dual(
  2,
  <A, E, R>(self: Effect.Effect<A, E, R>, priority: Priority): Effect.Effect<A, E, R> =>
    orDefect(() => locally(self, current, readPriority(priority)))
)

/**
 * The priority set around the current fiber's calls (`undefined`: none; its layer's applies).
 *
 * @category getters
 * @since 0.1.0
 */
export const get: Effect.Effect<number | undefined> = Effect.suspend(() => getReference(current))

/**
 * The number of a priority, or what is wrong with it.
 *
 * @category getters
 * @since 0.1.0
 */
export const level = (priority: unknown): number | string =>
  typeof priority === "string" && Object.hasOwn(classes, priority)
    ? classes[priority as keyof typeof classes]
    : typeof priority === "number" && Number.isInteger(priority) && priority >= 0 && priority <= highest
    ? priority
    : `expected "batch", "default", "interactive" or an integer from 0 to ${highest}, got ${show(priority)}`

// Internals -------------------------------------------------------------------

const current: Reference<number | undefined> = reference<number | undefined>(
  "effect-retry-layer/Priority/current",
  () => undefined
)

const readPriority = Fields.argument("Priority", "priority", Fields.mapping(level))
