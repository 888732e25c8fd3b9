/**
 * What the shared providers' wire (`core/internal/wire.ts`) needs that Effect 3 and Effect 4 spell differently, in
 * Effect 4's spelling: apart from `compat.ts`, so that an entry without adapters never loads `effect/Schema` or the
 * SSE parser.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Sse from "effect/encoding/Sse"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import * as SchemaParser from "effect/SchemaParser"
import * as Stream from "effect/Stream"

/** A schema of JSON data that needs no services. */
// The encoded side is whatever JSON the struct reads; schemas are invariant in it, so it cannot be `unknown`.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type JsonSchema<A> = Schema.Codec<A, any, never, never>

/** Decodes JSON text with a schema: the value, or the first issue as `path: message`. */
export const decodeJson = <A>(schema: JsonSchema<A>) => {
  const decode = SchemaParser.decodeUnknownExit(Schema.fromJsonString(schema))
  const format = SchemaIssue.makeFormatterStandardSchemaV1()
  return (text: string): { readonly ok: true; readonly value: A } | { readonly ok: false; readonly issue: string } => {
    const exit = decode(text)
    if (Exit.isSuccess(exit)) return { ok: true, value: exit.value as A }
    const issue = Option.match(Cause.findErrorOption(exit.cause), {
      onNone: () => undefined,
      onSome: (issue) => format(issue).issues[0]
    })
    return {
      ok: false,
      issue: issue === undefined ? "invalid" : `${(issue.path ?? []).map(String).join(".") || "data"}: ${issue.message}`
    }
  }
}

/** The platform's server-sent-events parser, fed line by line (`effect/encoding`'s on Effect 4). */
export const makeSseParser: (
  onParse: (event: Sse.AnyEvent) => void,
  options: { readonly maxEventSize: number }
) => { readonly feed: (chunk: string) => unknown } = Sse.makeParser

/** The clock, read without an effect per reading (as a stream's reads arrive). */
export const clockReader: Effect.Effect<() => number> = Clock.clockWith((clock) =>
  Effect.succeed(() => clock.currentTimeMillisUnsafe())
)

/** Each element of a stream as the elements `f` gives for it. */
export const mapConcat = <A, B>(f: (a: A) => Iterable<B>) => <E, R>(self: Stream.Stream<A, E, R>) =>
  Stream.flattenIterable(Stream.map(self, f))

/** A stream that fails with `onTimeout()` when it gives nothing for `duration`. */
export const idleTimeout = <E2>(duration: Duration.Duration, onTimeout: () => E2) =>
<A, E, R>(
  self: Stream.Stream<A, E, R>
): Stream.Stream<A, E | E2, R> => Stream.timeoutOrElse(self, { duration, orElse: () => Stream.fail(onTimeout()) })
