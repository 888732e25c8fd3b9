import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"

/**
 * Sends what concurrent callers ask as one operation at a time: while one is
 * in flight, new asks gather; when it returns, they go together as the next.
 * One store round trip per batch whatever the concurrency, so that 10,000
 * calls starting at once do not queue 10,000 commands on one Redis
 * connection (the last would wait far past the store's timeout).
 *
 * No fiber of its own: the caller that finds nothing in flight sends the
 * batch, and hands the next one to the first caller waiting, so `TestClock`
 * sees all the work in the test's own fibers. An ask cannot be interrupted
 * (a dropped leader would strand the batch); it waits at most the store's
 * timeout.
 *
 * `run` answers a batch with one output per input, in order.
 *
 * @internal
 */
export const batching = <In, Out>(run: (batch: ReadonlyArray<In>) => Effect.Effect<ReadonlyArray<Out>>) => {
  type Turn = { readonly _tag: "Done"; readonly exit: Exit.Exit<Out> } | { readonly _tag: "Lead" }
  let pending: Array<{ readonly input: In; readonly turn: Deferred.Deferred<Turn> }> = []
  let inFlight = false

  const lead = (own: Deferred.Deferred<Turn>): Effect.Effect<Out> => {
    const batch = pending
    pending = []
    return Effect.flatMap(Effect.exit(run(batch.map((b) => b.input))), (exit) =>
      Effect.gen(function*() {
        let mine: Exit.Exit<Out> = Exit.die(new Error("batch: no answer for this ask"))
        for (let i = 0; i < batch.length; i++) {
          const answer: Exit.Exit<Out> = Exit.map(exit, (outputs) => outputs[i]!)
          if (batch[i]!.turn === own) mine = answer
          else yield* Deferred.succeed(batch[i]!.turn, { _tag: "Done", exit: answer })
        }
        const next = pending[0]
        if (next === undefined) inFlight = false
        else yield* Deferred.succeed(next.turn, { _tag: "Lead" })
        return yield* mine
      }))
  }

  return (input: In): Effect.Effect<Out> =>
    Effect.uninterruptible(Effect.flatMap(Deferred.make<Turn>(), (turn) => {
      pending.push({ input, turn })
      if (!inFlight) {
        inFlight = true
        return lead(turn)
      }
      return Effect.flatMap(Deferred.await(turn), (t) => t._tag === "Lead" ? lead(turn) : t.exit)
    }))
}
