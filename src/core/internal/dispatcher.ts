import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Scope from "effect/Scope"
import type * as AdaptiveRateLimiter from "../AdaptiveRateLimiter.js"
import type * as FleetStore from "../FleetStore.js"
import * as ModelError from "../ModelError.js"
import * as Steps from "./fleetSteps.js"
import * as PriorityLine from "./priorityLine.js"
import type { ProviderQuota } from "./providerQuota.js"
import type { SendRate } from "./sendRate.js"

/**
 * What a call asks for: a slot charged with `cost`, at `priority`, for `tenant`, by `deadline` (epoch
 * milliseconds) if it has one; `retry` when the call was sent before (see `keepsPlace`).
 *
 * @internal
 */
export interface Ask {
  readonly cost: FleetStore.Quota
  readonly priority: number
  readonly tenant: PriorityLine.Tenant
  readonly deadline: number | undefined
  readonly retry: boolean
}

/**
 * Who goes when: a caller with nobody ahead takes its send slot (and charges
 * its cost) itself; the others wait in line for the dispatcher, a fiber that
 * serves them by priority and tenant (`internal/priorityLine`), as the send
 * rate and the provider's quota allow.
 *
 * @internal
 */
export interface Dispatcher {
  /**
   * A send slot and its charge for a call (see `Ask`), or (with a `deadline`) a
   * `DeadlineError` for a call that could not be answered in time: at once when its estimated wait and answer
   * end after it, when it leaves the line one answer's time before it, or when its slot comes too late (the
   * slot then goes to the next). Called uninterruptibly; `restore` makes the wait in line
   * interruptible (a caller interrupted just as it was served gives its charge back).
   */
  readonly acquire: (
    ask: Ask,
    restore: <X, Y, Z>(e: Effect.Effect<X, Y, Z>) => Effect.Effect<X, Y, Z>
  ) => Effect.Effect<Slot, ModelError.DeadlineError>
  /** Callers waiting in line. */
  readonly waiting: Effect.Effect<number>
}

/**
 * A send slot and its charge. `grantedAt` is when the store granted the slot, at the rate it knew then: a
 * throttle is compared with the last cut by it, not by when the caller got round to sending (a store round trip
 * and a wake-up later), which stamped requests admitted before a cut as sent after it and cut the rate twice.
 *
 * @internal
 */
export interface Slot {
  readonly charge: AdaptiveRateLimiter.Charge
  readonly grantedAt: number
}

/**
 * The dispatcher lives as long as the scope; when it closes, nobody is left waiting. A constructor closure,
 * long for that reason only: the line and the small functions over it.
 *
 * @internal
 */
export const make = (
  settings: AdaptiveRateLimiter.Options,
  rate: SendRate,
  quota: ProviderQuota,
  window: FleetStore.Window
): Effect.Effect<Dispatcher, never, Scope.Scope> =>
  Effect.gen(function*() {
    const line = PriorityLine.make<Waiter>()
    // This process's grants over the window: the pace a caller's wait in line is estimated at.
    const own = Steps.newRing(window.buckets)
    const windowSeconds = (window.buckets * window.bucketMillis) / 1000
    const granted = (at: number) => Steps.ringAdd(own, at, window, 0, 1)
    // The dispatcher, when it waits for a caller to come.
    let idle: Deferred.Deferred<void> | undefined
    // The waiter holding the slot being served.
    let current: Waiter | undefined
    let closed = false

    // A send slot, held, goes to the next caller still waiting, in the line's order, charged with that caller's
    // cost. While the charge waits for the provider's quota, a caller of a higher class that came meanwhile takes
    // the slot (the one it was for goes back to the head of its class), as does the next if it gave up.
    const serve = (grantedAt: number, tenant?: string): Effect.Effect<void> =>
      Effect.suspend(() => {
        const next = line.take(tenant)
        if (next === undefined) return Effect.void
        current = next.waiter
        return charge(next.waiter, grantedAt)
      })
    // The store is asked for the next to serve at the highest priority waiting here: which of this process's
    // callers gets a slot is the line's choice (its own bound on starvation), not the fleet's; a named tenant's
    // share is the fleet's.
    const orderOf = (ask: Ask | undefined): FleetStore.Order =>
      ask === undefined ? {} : {
        priority: Math.max(ask.priority, line.top()),
        ...(ask.tenant.key === "" ? {} : { tenant: ask.tenant.key, weight: ask.tenant.weight })
      }
    const charge = (waiter: Waiter, grantedAt: number): Effect.Effect<void> =>
      Effect.flatMap(quota.reserveOnce(waiter.cost, orderOf(waiter)), (reservation) => {
        if (reservation.wait === 0) {
          const charged = quota.charging(waiter.cost, reservation)
          return Effect.flatMap(Clock.currentTimeMillis, (now) => {
            const late = waiter.deadline !== undefined && now + (rate.latency() ?? 0) > waiter.deadline
            return Effect.flatMap(
              late
                ? Deferred.fail(waiter.deferred, tooLate(waiter.deadline!, now, "its send slot came too late"))
                : Deferred.succeed(waiter.deferred, { charge: charged, grantedAt }),
              (delivered) => {
                if (delivered && !late) {
                  granted(now)
                  return Effect.void
                }
                return Effect.andThen(quota.settle(charged), serve(grantedAt))
              }
            )
          })
        }
        return Effect.flatMap(Deferred.isDone(waiter.deferred), (gone) => {
          if (gone) return serve(grantedAt)
          if (line.next() > waiter.priority) {
            line.putBack(waiter.priority, waiter.tenant, waiter, keepsPlace(waiter))
            return serve(grantedAt)
          }
          return Effect.andThen(rate.pause(reservation.wait), charge(waiter, grantedAt))
        })
      })

    // Slots for the callers in line are asked for at once, and the store gives as many as it has: a process
    // waiting with many calls is not paced at one send per store round trip. Not once the provider's limits are
    // known: each call then waits on its own charge against the quota (a round trip of its own), slots taken ahead
    // would be held through those waits, and a process's share of the fleet (measured from its grants, see
    // FleetStore.resilient) would count slots it has not used yet. Each slot goes to the next in line, as a held
    // slot does; the slots left when the rate is cut (granted at the rate before the cut, they would go on sending
    // into the throttle) or when nobody is left are dropped.
    const serveEach = (grantedAt: number, slots: number, tenant?: string): Effect.Effect<void> =>
      Effect.andThen(
        serve(grantedAt, tenant),
        Effect.suspend(() =>
          slots > 1 && line.size() > 0 && rate.control().lastCut < grantedAt
            ? serveEach(grantedAt, slots - 1)
            : Effect.void
        )
      )

    // Callers at the head of the line that gave up are dropped before slots are asked for them.
    const dropGone: Effect.Effect<void> = Effect.suspend(() => {
      const head = line.peek()
      if (head === undefined) return Effect.void
      return Effect.flatMap(
        Deferred.isDone(head.deferred),
        (gone) => gone ? Effect.andThen(Effect.sync(() => line.take()), dropGone) : Effect.void
      )
    })

    const dispatch = Effect.andThen(
      dropGone,
      Effect.suspend(() => {
        if (line.size() === 0) {
          return Effect.flatMap(Deferred.make<void>(), (wake) => {
            idle = wake
            return Deferred.await(wake)
          })
        }
        // One at a time for a named tenant: each slot is counted against the tenant it goes to. The ask names the
        // line's other tenants waiting in the class too: the fleet gives the slot to the first whose turn it is,
        // and counts them all as waiting (asking for the head's tenant alone, a process whose head the fleet held
        // back for the others' turns served none of its other tenants: ten processes, one tenant's 100 calls
        // left waiting 25 s behind the others' heads).
        return rate.tokens(
          () => quota.limitsKnown() || line.peek()?.tenant.key ? 1 : line.size(),
          () => {
            const head = line.peek()
            const others = head === undefined || head.tenant.key === "" ? [] : line.others(Steps.maxTenants - 1)
            const order = orderOf(head)
            return others.length === 0
              ? order
              : { ...order, others: others.map((t) => ({ tenant: t.key, weight: t.weight })) }
          }
        ).pipe(
          Effect.flatMap(({ at, taken, tenant }) => serveEach(at, taken, tenant)),
          Effect.ensuring(Effect.sync(() => (current = undefined)))
        )
      })
    )

    // Runs after the dispatcher is interrupted (finalizers run in reverse): nobody is left waiting.
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        closed = true
        for (const waiter of [...(current === undefined ? [] : [current]), ...line.drain()]) {
          yield* Deferred.interrupt(waiter.deferred)
        }
      })
    )
    yield* Effect.forkScoped(Effect.forever(dispatch))

    // A call with a deadline leaves the line one answer's time before it (its slot, were it served later, would
    // be of no use).
    const awaitBy = (deferred: Deferred.Deferred<Slot, ModelError.DeadlineError>, deadline: number) =>
      Effect.raceFirst(
        Deferred.await(deferred),
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Effect.sleep(Duration.millis(Math.max(0, deadline - (rate.latency() ?? 0) - now))).pipe(
            Effect.andThen(Clock.currentTimeMillis),
            Effect.flatMap((at) => Deferred.fail(deferred, tooLate(deadline, at, "it left the line"))),
            Effect.andThen(Deferred.await(deferred))
          ))
      )

    // In line for the dispatcher. A caller interrupted just as it was served gives its charge back.
    const wait = (ask: Ask) =>
      Effect.flatMap(Deferred.make<Slot, ModelError.DeadlineError>(), (deferred) =>
        Effect.suspend(() => {
          line.push(ask.priority, ask.tenant, { ...ask, deferred }, keepsPlace(ask))
          const wake = idle
          idle = undefined
          return wake === undefined ? Effect.void : Deferred.succeed(wake, undefined)
        }).pipe(
          Effect.andThen(ask.deadline === undefined ? Deferred.await(deferred) : awaitBy(deferred, ask.deadline)),
          Effect.onInterrupt(() =>
            Effect.flatMap(Deferred.interrupt(deferred), (interrupted) =>
              interrupted ?
                Effect.void :
                Effect.flatMap(
                  Effect.exit(Deferred.await(deferred)),
                  (exit) =>
                    Exit.isSuccess(exit) ? quota.settle(exit.value.charge) : Effect.void
                ))
          )
        ))

    // With nobody waiting, a caller takes its slot itself, without a hand-over through the dispatcher; it queues
    // only when there is no room, or others are already in line (who must go first, or are served in priority
    // order), or (while the provider's limits are unknown) another caller's ask is still out: then the dispatcher
    // asks for the whole line at once, and calls starting together send a few asks of the store, not one each.
    // With the limits known each call charges the quota itself, a store operation of its own, and callers asking
    // side by side keep their store operations in flight together (through the dispatcher one at a time, 32
    // callers on a real Redis made 540 calls/s where they make 800).
    let asking = 0
    const admitted: Dispatcher["acquire"] = (ask, restore) =>
      Effect.suspend((): Effect.Effect<Slot, ModelError.DeadlineError> => {
        if (closed) {
          return Effect.interrupt
        }
        const behindAnAsk = asking > 0 && !quota.limitsKnown()
        if (current !== undefined || line.size() > 0 || behindAnAsk) {
          return restore(wait(ask))
        }
        asking++
        const order = orderOf(ask)
        const asked = Effect.flatMap(
          quota.reserveOnce(ask.cost, order),
          (reservation): Effect.Effect<{
            readonly reservation: FleetStore.Reservation
            readonly token: { readonly wait: number; readonly at: number } | undefined
          }> =>
            reservation.wait > 0
              ? Effect.succeed({ reservation, token: undefined })
              : Effect.map(rate.take(order), (token) => ({ reservation, token }))
        )
        return Effect.flatMap(Effect.ensuring(asked, Effect.sync(() => asking--)), ({ reservation, token }) => {
          if (token === undefined) return restore(wait(ask))
          const charge = quota.charging(ask.cost, reservation)
          if (token.wait > 0) return Effect.andThen(quota.settle(charge), restore(wait(ask)))
          granted(token.at)
          return Effect.succeed({ charge, grantedAt: token.at })
        })
      })

    // The sends a second this process may expect: what it sent over the window, or its share of the fleet's rate
    // if more (a process that had no backlog sent less than it could; one that sent nothing yet, the whole rate).
    const pace = (now: number) => {
      const sent = Steps.ringSums(own, now, window)[1] / windowSeconds
      const control = rate.control()
      const share = control.sent > 0 ? Math.min(1, sent / control.sent) : 1
      return Math.max(sent, rate.now(now) * (sent > 0 ? share : 1))
    }

    // A call with a deadline is refused at once when the callers ahead of it, at this process's pace, and one
    // answer's time end after the deadline. The estimate errs towards admitting (the rate may be cut, or a higher
    // class come): what is sent is decided by the checks in line and at the slot.
    const acquire: Dispatcher["acquire"] = (ask, restore) => {
      const deadline = ask.deadline
      return deadline === undefined
        ? admitted(ask, restore)
        : Effect.flatMap(Clock.currentTimeMillis, (now): Effect.Effect<Slot, ModelError.DeadlineError> => {
          const ahead = line.ahead(ask.priority, keepsPlace(ask)) + (current === undefined ? 0 : 1)
          const wait = ahead === 0 ? 0 : (ahead * 1000) / pace(now)
          const latency = rate.latency() ?? 0
          return now + wait + latency > deadline
            ? Effect.fail(tooLate(deadline, now, `an estimated ${Math.round(wait)} ms for a send slot`, wait))
            : admitted(ask, restore)
        })
    }

    // What a call that could not be answered in time is told: when it gives up, what the limiter estimated.
    const tooLate = (deadline: number, now: number, why: string, wait?: number) => {
      const latency = rate.latency()
      return new ModelError.DeadlineError({
        provider: `AdaptiveRateLimiter ${settings.key}`,
        message: `not sent: ${why}${
          latency === undefined ? "" : ` and ${Math.round(latency)} ms for the answer`
        } would end after its deadline, ${Math.max(0, Math.round(deadline - now))} ms away`,
        deadline,
        ...(wait === undefined ? {} : { waitMillis: Math.round(wait) }),
        ...(latency === undefined ? {} : { latencyMillis: Math.round(latency) })
      })
    }

    return { acquire, waiting: Effect.sync(() => line.size()) }
  })

// A retry of a call with a deadline waits behind its class's other such retries only: its call came before the
// first attempts in line, and at the back, behind a line that fills its deadline, it would be refused (the request
// it sent spent for nothing). Other retries wait in arrival order: sent first, the no-header limiter's retries met
// its probes in step (every ~2 s, as their backoffs), and the headline batch lost a call of its 10,000.
const keepsPlace = (ask: Ask): boolean => ask.retry && ask.deadline !== undefined

interface Waiter extends Ask {
  readonly deferred: Deferred.Deferred<Slot, ModelError.DeadlineError>
}
