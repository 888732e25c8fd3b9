import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { Judge } from "../core/internal/commit.js"

/**
 * Reads `stream` up to its commit point (as `judge` places it), in a scope of its own (a child of `parent` when
 * given) that is closed if the read fails (its request is then abandoned) and otherwise when the caller's
 * stream ends. The stream it gives replays nothing: the held items, the committing read, then every later read
 * from the same pull. One that ends before its commit point gives what was held. A defect or an interruption is
 * not an answer: it goes on as it is.
 *
 * @internal
 */
export const readToCommit = <A, E, F>(
  stream: Stream.Stream<A, E>,
  judge: Judge<A, F>,
  parent?: Scope.Scope
): Effect.Effect<Stream.Stream<A, E>, E | F> =>
  Effect.flatMap(parent === undefined ? Scope.make() : Scope.fork(parent, ExecutionStrategy.sequential), (scope) => {
    const read = Effect.gen(function*() {
      const pull = yield* Scope.extend(Stream.toPull(stream), scope)
      const held: Array<A> = []
      for (;;) {
        const exit = yield* Effect.exit(pull)
        if (Exit.isFailure(exit)) {
          const failure = Cause.failureOption(exit.cause)
          if (Option.isNone(failure)) return yield* Effect.failCause(exit.cause as Cause.Cause<never>)
          if (Option.isSome(failure.value)) return yield* Effect.fail(failure.value.value)
          yield* Scope.close(scope, Exit.void)
          return Stream.fromIterable(held)
        }
        const items = Chunk.toReadonlyArray(exit.value)
        const verdict = judge(items, held)
        if (typeof verdict !== "number") return yield* Effect.fail(verdict.fail)
        if (verdict === -1) {
          held.push(...items)
          continue
        }
        return Stream.concat(Stream.fromIterable([...held, ...items]), Stream.repeatEffectChunkOption(pull)).pipe(
          Stream.ensuring(Scope.close(scope, Exit.void))
        )
      }
    })
    return Effect.onExit(read, (exit) => Exit.isFailure(exit) ? Scope.close(scope, exit) : Effect.void)
  })
