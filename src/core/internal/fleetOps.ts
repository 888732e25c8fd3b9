/**
 * The fleet store's operations over its one primitive: run a step of `internal/fleetSteps` on one key's state,
 * atomically. The memory store runs a step on a map; `FleetStoreRedis` runs it in Redis as generated Lua. Both
 * get their seven operations from here, so an operation's arguments are mapped onto its step once. (Not in
 * `fleetSteps.ts`, which must stay free of Effect for TypeScriptToLua.)
 */
import * as Effect from "effect/Effect"
import type { Service } from "../FleetStore.js"
import type * as Steps from "./fleetSteps.js"

/** The name of an operation, which is the name of its step. */
export type Op = keyof typeof Steps.steps

/** The arguments of an operation's step. */
export type Args<K extends Op> = Parameters<typeof Steps.steps[K]>[2]

/** The reply of an operation's step. */
export type Reply<K extends Op> = ReturnType<typeof Steps.steps[K]>["reply"]

/** Runs step `op` on the state at `key` atomically and answers its reply: a store's one primitive. */
export type RunStep<E> = <K extends Op>(op: K, key: string, now: number, args: Args<K>) => Effect.Effect<Reply<K>, E>

/**
 * Runs step `op` on the state at `key` without waiting for its reply: for the operations that answer nothing.
 * A store may send it with its next operation (see `FleetStoreRedis`), after every operation this process
 * asked before it; one that cannot answers it as `run` does.
 */
export type TellStep<E> = <K extends Op>(op: K, key: string, now: number, args: Args<K>) => Effect.Effect<void, E>

/** The store's operations, failing with `E` (the memory store: `never`). */
export type Operations<E> = {
  readonly [K in keyof Service]: (
    ...args: Parameters<Service[K]>
  ) => Effect.Effect<Success<ReturnType<Service[K]>>, E>
}

/** What an effect succeeds with (Effect 3's `Effect.Effect.Success`, Effect 4's `Effect.Success`). */
export type Success<T> = T extends Effect.Effect<infer A, infer _E, infer _R> ? A : never

export const operations = <E>(
  run: RunStep<E>,
  tell: TellStep<E> = (op, key, now, args) => Effect.asVoid(run(op, key, now, args))
): Operations<E> => ({
  budget: (key, now, window, ask) => run("budget", key, now, { window, ask }),
  firstAttempts: (key, now, window, count) =>
    tell("budget", key, now, { window, ask: { _tag: "FirstAttempt", count } }),
  take: (key, now, window, rate, burst, count = 1, order) =>
    run("take", key, now, { window, rate, burst, count, ...ordered(order) }),
  delivered: (key, now, window, delivery) => tell("delivered", key, now, { window, delivery }),
  throttled: (key, now, window, throttle) => run("throttled", key, now, { window, throttle }),
  reserve: (key, now, cost, order) => run("reserve", key, now, { cost, ...ordered(order) }),
  settle: (key, now, delta) => tell("settle", key, now, { delta }),
  observe: (key, now, seen, blind) => tell("observe", key, now, blind === undefined ? { seen } : { seen, blind })
})

// An ask's place in the fleet's order, as the steps' arguments (what is not said is left out).
const ordered = (order: Steps.Order | undefined): Steps.Order =>
  order === undefined ? {} : Object.fromEntries(Object.entries(order).filter(([, v]) => v !== undefined))
