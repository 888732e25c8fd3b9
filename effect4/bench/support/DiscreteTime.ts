/**
 * Runs an Effect 4 program in discrete-event virtual time, as the Effect 3 line's `bench/support/DiscreteTime.ts`
 * does: every task of the program runs on a scheduler this runner steps by hand, and its clock's sleeps sit in a
 * heap (`bench/support/sleepers.ts`, shared); when nothing can run, the clock jumps to the earliest sleeper and
 * wakes every sleeper due then, until the program ends. Time never passes while anything can run, so the result
 * depends only on the program (and its `Random` seed), not on the machine.
 */
import type { Scheduler } from "effect"
import { Clock, Effect, Exit } from "effect"
import * as Duration from "effect/Duration"
import { advance, Sleepers } from "../../../bench/support/sleepers.js"

// Every fiber's dispatcher is this one queue, run to empty by the runner before the clock moves.
class SteppedScheduler implements Scheduler.Scheduler {
  readonly executionMode = "sync" as const
  tasks: Array<() => void> = []
  private readonly dispatcher: Scheduler.SchedulerDispatcher = {
    scheduleTask: (task) => {
      this.tasks.push(task)
    },
    flush: () => this.runAll()
  }
  shouldYield(fiber: Parameters<Scheduler.Scheduler["shouldYield"]>[0]) {
    return fiber.currentOpCount >= 2048
  }
  makeDispatcher() {
    return this.dispatcher
  }
  runAll() {
    while (this.tasks.length > 0) {
      const batch = this.tasks
      this.tasks = []
      for (const task of batch) task()
    }
  }
}

class DiscreteClock implements Clock.Clock {
  readonly sleepers = new Sleepers()
  now = 0

  currentTimeMillisUnsafe() {
    return this.now
  }
  currentTimeNanosUnsafe() {
    return BigInt(Math.round(this.now * 1e6))
  }
  monotonicTimeNanosUnsafe() {
    return this.currentTimeNanosUnsafe()
  }
  readonly currentTimeMillis = Effect.sync(() => this.now)
  readonly currentTimeNanos = Effect.sync(() => this.currentTimeNanosUnsafe())
  readonly monotonicTimeNanos = this.currentTimeNanos

  sleep(duration: Duration.Duration): Effect.Effect<void> {
    const millis = Duration.toMillis(duration)
    return Effect.callback<void>((resume) => {
      const sleeper = this.sleepers.push(this.now + Math.max(0, millis), () => resume(Effect.void))
      return Effect.sync(() => {
        sleeper.wake = undefined
      })
    })
  }

  /** Moves to the earliest sleeper and wakes all due then; false when nobody sleeps. */
  advance(): boolean {
    return advance(this.sleepers, (at) => {
      this.now = Math.max(this.now, at)
    })
  }
}

/**
 * Runs `effect` to completion in discrete virtual time; the clock starts at 0. Throws if the program waits for
 * something that no sleeper will ever bring.
 */
export const run = <A, E>(effect: Effect.Effect<A, E>): A => {
  const scheduler = new SteppedScheduler()
  const clock = new DiscreteClock()
  const fiber = Effect.runFork(Effect.provideService(effect, Clock.Clock, clock), { scheduler })
  let exit: Exit.Exit<A, E> | undefined
  fiber.addObserver((done) => {
    exit = done
  })
  for (;;) {
    while (scheduler.tasks.length > 0) scheduler.runAll()
    if (exit !== undefined) break
    if (!clock.advance()) throw new Error(`deadlock at ${clock.now} ms of virtual time: nothing runs, nobody sleeps`)
  }
  if (Exit.isSuccess(exit)) return exit.value
  throw new Error(`simulation failed: ${String(exit.cause)}`)
}
