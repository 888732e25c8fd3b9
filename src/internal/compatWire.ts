/**
 * What the shared providers' wire (`core/internal/wire.ts`) needs that Effect 3 and Effect 4 spell differently, in
 * Effect 3's spelling: apart from `compat.ts`, so that an entry without adapters (the Promise bridge) never loads
 * `effect/Schema` or the SSE parser.
 */
import * as Sse from "@effect/experimental/Sse"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"

/** A schema of JSON data that needs no services. */
// The encoded side is whatever JSON the struct reads; schemas are invariant in it, so it cannot be `unknown`.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type JsonSchema<A> = Schema.Schema<A, any, never>

/** Decodes JSON text with a schema: the value, or the first issue as `path: message`. */
export const decodeJson = <A>(schema: JsonSchema<A>) => {
  const decode = Schema.decodeUnknownEither(Schema.parseJson(schema))
  return (text: string): { readonly ok: true; readonly value: A } | { readonly ok: false; readonly issue: string } =>
    Either.match(decode(text), {
      onLeft: (error) => {
        const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
        return {
          ok: false,
          issue: issue === undefined ? "invalid" : `${issue.path.join(".") || "data"}: ${issue.message}`
        }
      },
      onRight: (value) => ({ ok: true, value })
    })
}

/** The platform's server-sent-events parser, fed line by line (`@effect/experimental`'s on Effect 3). */
export const makeSseParser: (
  onParse: (event: Sse.AnyEvent) => void,
  options: { readonly maxEventSize: number }
) => { readonly feed: (chunk: string) => unknown } = Sse.makeParser

/** The clock, read without an effect per reading (as a stream's reads arrive). */
export const clockReader: Effect.Effect<() => number> = Effect.map(
  Effect.clock,
  (clock) => () => clock.unsafeCurrentTimeMillis()
)

/** Each element of a stream as the elements `f` gives for it. */
export const mapConcat = <A, B>(f: (a: A) => Iterable<B>) => <E, R>(self: Stream.Stream<A, E, R>) =>
  Stream.mapConcat(self, f)

/** A stream that fails with `onTimeout()` when it gives nothing for `duration`. */
export const idleTimeout = <E2>(duration: Duration.Duration, onTimeout: () => E2) =>
<A, E, R>(
  self: Stream.Stream<A, E, R>
): Stream.Stream<A, E | E2, R> => Stream.timeoutFail(self, onTimeout, duration)
