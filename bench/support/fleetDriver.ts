/**
 * How a fleet scenario's calls are made, for both Effect lines' simulations (`bench/fleet.ts`,
 * `effect4/bench/fleet.ts`): the N clients at once (a `mixed-priority` batch tagged `Priority` "batch", with one
 * "interactive" call every so often while it runs, each process in turn; each `deadlines` call in
 * `Deadline.withDeadline`, a timeout for the peers), or each tenant's callers calling again as soon as they are
 * answered (`tenants`, in `Tenant.withTenant`). Written against what the two lines' `effect` share; the Effect 4
 * line reads it through a link (`effect4/bench/support/`), its imports then finding Effect 4 and that line's
 * package.
 */
import { Deadline, Priority, Tenant } from "effect-retry-layer"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import type { Outcome, Scenario } from "./fleetScenarios.js"
import * as Scenarios from "./fleetScenarios.js"

/** What the calls of a run did: when each client's call succeeded (by process), and what the figures need. */
export interface Driven {
  readonly results: ReadonlyArray<ReadonlyArray<number | undefined>>
  readonly end: number
  /** mixed-priority: when each interactive call asked, and its latency. */
  readonly interactive: ReadonlyArray<readonly [number, number]>
  /** tenants: each tenant's answers. */
  readonly deliveredTo: { readonly [tenant: string]: ReadonlyArray<number> }
  /** deadlines: when each call the limiter refused was told. */
  readonly refusedAt: ReadonlyMap<number, number>
}

/**
 * Runs a scenario's calls: `call(p, client)` is a call of `client` (its request, its count at the server)
 * through process `p`; `refused` tells the limiter's refusal of a call with a deadline (its `DeadlineError`, as
 * the line's model surfaces it).
 */
export const drive = (
  scenario: Scenario,
  processes: number,
  call: (p: number, client: number) => Effect.Effect<unknown, unknown>,
  refused: (error: unknown) => boolean
): Effect.Effect<Driven, never, Scope.Scope> =>
  Effect.gen(function*() {
    const done = (effect: Effect.Effect<unknown, unknown>) =>
      Effect.zipWith(
        Effect.exit(effect),
        Clock.currentTimeMillis,
        (exit, at) => exit._tag === "Success" ? at : undefined
      )
    const mixed = scenario.interactiveEveryMillis !== undefined
    const deadline = scenario.deadlineMillis
    const refusedAt = new Map<number, number>()
    const byDeadline = (client: number, once: Effect.Effect<unknown, unknown>) =>
      deadline === undefined ? once : Effect.tapError(
        Deadline.withDeadline(once, Duration.millis(deadline)),
        (error) =>
          refused(error) ? Effect.map(Clock.currentTimeMillis, (at) => void refusedAt.set(client, at)) : Effect.void
      )
    const share = Math.ceil(scenario.n / scenario.processes)
    const batch = Effect.forEach(
      Array.from({ length: processes }, (_, p) => [p, p * share, Math.min(share, scenario.n - p * share)] as const),
      ([p, first, clients]) =>
        Effect.forEach(
          Array.from({ length: clients }, (_, i) => first + i),
          (client) =>
            done(mixed ? Priority.withPriority(call(p, client), "batch") : byDeadline(client, call(p, client))),
          { concurrency: "unbounded" }
        ),
      { concurrency: "unbounded" }
    )
    // mixed-priority: an interactive call every so often while the batch runs, each process in turn
    const interactive: Array<readonly [number, number]> = []
    let batchDone = false
    const interactiveCalls = (every: number) =>
      Effect.gen(function*() {
        const started = []
        for (let k = 0; !batchDone; k++) {
          yield* Effect.sleep(Duration.millis(every))
          if (batchDone) break
          const from = yield* Clock.currentTimeMillis
          const answered = Priority.withPriority(call(k % processes, k % scenario.n), "interactive")
          started.push(
            yield* Effect.forkScoped(Effect.map(done(answered), (to) => {
              if (to !== undefined) interactive.push([from, to - from])
            }))
          )
        }
        yield* Fiber.joinAll(started)
      })
    // tenants: each tenant's callers, spread over the processes, each calling again as soon as it is answered
    const deliveredTo: Record<string, Array<number>> = {}
    const tenantCalls = (tenants: NonNullable<Scenario["tenants"]>) =>
      Effect.forEach(
        Object.keys(tenants.weights).flatMap((tenant) =>
          Array.from({ length: tenants.callers }, (_, i) => [tenant, i] as const)
        ),
        ([tenant, i]) =>
          Effect.gen(function*() {
            const times = deliveredTo[tenant] ??= []
            while ((yield* Clock.currentTimeMillis) < tenants.until[tenant]!) {
              const at = yield* done(
                call(i % processes, i).pipe(Tenant.withTenant({ key: tenant, weight: tenants.weights[tenant]! }))
              )
              if (at !== undefined) times.push(at)
            }
          }),
        { concurrency: "unbounded", discard: true }
      )
    const spec = scenario.tenants
    const [results, end] = spec !== undefined
      ? yield* Effect.as(tenantCalls(spec), [[], Math.max(...Object.values(spec.until))] as const)
      : yield* Effect.all([
        Effect.zip(batch, Clock.currentTimeMillis).pipe(Effect.tap(() => Effect.sync(() => (batchDone = true)))),
        mixed ? interactiveCalls(scenario.interactiveEveryMillis!) : Effect.void
      ], { concurrency: "unbounded" }).pipe(Effect.map(([finished]) => finished))
    return { results, end, interactive, deliveredTo, refusedAt }
  })

/**
 * A run's outcome from what its calls did, what the server counted and the requests each client's calls sent
 * (deadlines).
 */
export const outcomeOf = (
  scenario: Scenario,
  strategy: string,
  driven: Driven,
  counts: { readonly accepted: number; readonly refused: number; readonly failed: number },
  sentBy: ReadonlyArray<number>,
  floor: number
): Outcome => {
  const mixed = scenario.interactiveEveryMillis !== undefined
  const spec = scenario.tenants
  const deadlines = scenario.deadlineMillis === undefined
    ? undefined
    : Scenarios.deadlineFigures(driven.results.flat(), sentBy, driven.refusedAt, scenario.deadlineMillis)
  return Scenarios.outcome(scenario, strategy, counts, driven.results, driven.end, floor, {
    interactive: mixed ? driven.interactive.map(([, latency]) => latency) : undefined,
    deadlines: deadlines?.figures,
    tenants: spec === undefined ? undefined : Scenarios.tenantFigures(
      spec,
      driven.deliveredTo,
      scenario.server.capacity,
      counts.accepted + counts.refused + counts.failed
    ),
    timeline: {
      ...(mixed ? { interactive: driven.interactive } : {}),
      ...(spec === undefined ? {} : { delivered: driven.deliveredTo }),
      ...(deadlines === undefined ? {} : { refused: deadlines.refusedAt })
    }
  })
}
