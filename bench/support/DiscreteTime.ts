/**
 * Runs an Effect program in discrete-event virtual time, for simulations too
 * large for `TestClock`.
 *
 * `TestClock` advances time by an amount the test chooses and lets sleepers
 * wake on the real scheduler, which suits unit tests but not 10,000 clients
 * sleeping hundreds of thousands of times. Here the program runs on a
 * `ControlledScheduler` with a `Clock` whose sleeps sit in a priority queue:
 * run every ready task until none is left, then jump the clock to the earliest
 * sleeper and wake every sleeper due then, until the program ends. Time never
 * passes while anything can run, so the result depends only on the program
 * (and its `Random` seed), not on the machine.
 */
import { Clock, Duration, Effect, Exit, Scheduler } from "effect"
import { advance, Sleepers } from "./sleepers.js"

class DiscreteClock implements Clock.Clock {
  readonly [Clock.ClockTypeId]: Clock.ClockTypeId = Clock.ClockTypeId
  readonly sleepers = new Sleepers()
  now = 0

  unsafeCurrentTimeMillis() {
    return this.now
  }
  unsafeCurrentTimeNanos() {
    return BigInt(Math.round(this.now * 1e6))
  }
  readonly currentTimeMillis = Effect.sync(() => this.now)
  readonly currentTimeNanos = Effect.sync(() => this.unsafeCurrentTimeNanos())

  sleep(duration: Duration.Duration): Effect.Effect<void> {
    const millis = Duration.toMillis(duration)
    return Effect.async<void>((resume) => {
      // A cancelled sleeper stays in the heap with nothing to wake, which is cheaper than removing it.
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
 * Runs `effect` to completion in discrete virtual time; the clock starts at 0.
 * Throws if the program waits for something that no sleeper will ever bring.
 */
export const run = <A, E>(effect: Effect.Effect<A, E>): A => {
  const scheduler = new Scheduler.ControlledScheduler()
  const clock = new DiscreteClock()
  const fiber = Effect.runFork(effect.pipe(Effect.withClock(clock), Effect.withScheduler(scheduler)))
  let exit: Exit.Exit<A, E> | undefined
  fiber.addObserver((done) => {
    exit = done
  })
  for (;;) {
    while (scheduler.tasks.buckets.length > 0) scheduler.step()
    if (exit !== undefined) break
    if (!clock.advance()) throw new Error(`deadlock at ${clock.now} ms of virtual time: nothing runs, nobody sleeps`)
  }
  if (Exit.isSuccess(exit)) return exit.value
  throw new Error(`simulation failed: ${String(exit.cause)}`)
}
