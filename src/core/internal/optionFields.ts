/**
 * How the fleet pieces read their options, on both lines and without Schema: each field's reader checks its
 * value (type, bounds, durations by `duration.ts`'s rules) and says what is wrong; a piece's reader runs them
 * all, applies the defaults, names an unknown key with the one it most likely meant, and throws one
 * `InvalidOptions` listing every problem with its path. Written by hand because the two lines' Schemas differ
 * (Effect 3's `Schema.Class` and filters, Effect 4's checks) and an option must mean the same on both.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import { isRecord } from "../../internal/compat.js"
import { readDuration, show } from "./duration.js"
import { InvalidOptions, type Issue } from "./invalidOptions.js"
import { nearest } from "./spelling.js"

/** A value read, or what is wrong with it (paths relative to the field). @internal */
export type Read<A> = { readonly ok: true; readonly value: A } | {
  readonly ok: false
  readonly issues: ReadonlyArray<Issue>
}

/** One option: how its value is read, and its default when it is not set (none: the option stays unset). @internal */
export interface Field<A> {
  readonly read: (input: unknown) => Read<A>
  readonly default?: (() => A) | undefined
}

const ok = <A>(value: A): Read<A> => ({ ok: true, value })
const problem = (message: string): Read<never> => ({ ok: false, issues: [{ _tag: "Type", path: [], message }] })

/** A field from a check of its value: what is wrong, or `undefined`. @internal */
export const checking = <A>(check: (input: unknown) => string | undefined): Field<A> => ({
  read: (input) => {
    const wrong = check(input)
    return wrong === undefined ? ok(input as A) : problem(wrong)
  }
})

/** A field read by `read`: its value, or what is wrong with it. @internal */
export const mapping = <A>(read: (input: unknown) => A | string): Field<A> => ({
  read: (input) => {
    const value = read(input)
    return typeof value === "string" ? problem(value) : ok(value)
  }
})

/** The field with a default. @internal */
export const withDefault = <A>(field: Field<A>, value: () => A): Field<A> => ({ ...field, default: value })

/** A finite number within bounds, with one message that names them. @internal */
export const number = (bounds: {
  readonly min?: number
  readonly max?: number
  readonly exclusiveMin?: boolean
  readonly exclusiveMax?: boolean
  readonly int?: boolean
}): Field<number> => {
  const { exclusiveMax = false, exclusiveMin = false, int = false, max, min } = bounds
  const wanted = [
    int ? "an integer" : "a finite number",
    min === undefined ? "" : `${exclusiveMin ? ">" : ">="} ${min}`,
    max === undefined ? "" : `${min === undefined ? "" : "and "}${exclusiveMax ? "<" : "<="} ${max}`
  ].filter((s) => s !== "").join(" ")
  return checking((n) =>
    typeof n !== "number"
      ? `expected ${wanted}, got ${show(n)}`
      : Number.isFinite(n) && (!int || Number.isInteger(n)) &&
          (min === undefined || (exclusiveMin ? n > min : n >= min)) &&
          (max === undefined || (exclusiveMax ? n < max : n <= max))
      ? undefined
      : `expected ${wanted}, got ${n}`
  )
}

/** A string; `nonEmpty`, with at least one character. @internal */
export const string = (nonEmpty: boolean): Field<string> =>
  checking((s) =>
    typeof s === "string" && (!nonEmpty || s.length > 0)
      ? undefined
      : `expected a${nonEmpty ? " non-empty" : ""} string, got ${show(s)}`
  )

/** @internal */
export const boolean: Field<boolean> = checking((b) =>
  typeof b === "boolean" ? undefined : `expected true or false, got ${show(b)}`
)

/** A function, described as `description` in the message. @internal */
export const func = <F>(description: string): Field<F> =>
  checking((f) => typeof f === "function" ? undefined : `expected ${description}, got ${show(f)}`)

/**
 * A non-negative duration from any `DurationInput`; `finite`, `positive` as asked, and at most `atMost` (in
 * milliseconds, with the words the message says it in).
 *
 * @internal
 */
export const duration = (require: {
  readonly finite?: boolean
  readonly positive?: boolean
  readonly atMost?: { readonly millis: number; readonly says: string }
}): Field<Duration.Duration> => ({
  read: (input) => {
    const read = readDuration(input, require)
    if ("problem" in read) return problem(read.problem)
    const { atMost } = require
    if (atMost !== undefined && Duration.toMillis(read.duration) > atMost.millis) {
      return problem(`expected at most ${atMost.says}`)
    }
    return ok(read.duration)
  }
})

/** `false`, or what `field` reads. @internal */
export const orFalse = <A>(field: Field<A>, description: string): Field<A | false> => ({
  read: (input) => {
    if (input === false) return ok(false)
    if (!isRecord(input)) return problem(`expected false or ${description}, got ${show(input)}`)
    return field.read(input)
  }
})

/** The fields of `A` and how each is read: every key, with the field of its value when set. @internal */
export type Fields<A> = { readonly [K in keyof A]-?: Field<Exclude<A[K], undefined>> }

/**
 * An object of fields, checked after its fields by `check` (problems across fields, with their paths). An
 * unknown key is refused unless `excess` is `"ignore"`.
 *
 * @internal
 */
export const struct = <A>(
  fields: Fields<A>,
  options: { readonly check?: (a: A) => ReadonlyArray<Issue>; readonly excess?: "error" | "ignore" } = {}
): Field<A> => ({
  read: (input) => {
    if (!isRecord(input)) return problem(`expected an object of options, got ${show(input)}`)
    const names = Object.keys(fields)
    const issues: Array<Issue> = []
    const value: Record<string, unknown> = {}
    for (const name of names) {
      const field = (fields as Record<string, Field<unknown>>)[name]!
      const given = (input as Record<string, unknown>)[name]
      if (given === undefined) {
        if (field.default !== undefined) value[name] = field.default()
        continue
      }
      const read = field.read(given)
      if (read.ok) value[name] = read.value
      else for (const issue of read.issues) issues.push({ ...issue, path: [name, ...issue.path] })
    }
    if (options.excess !== "ignore") {
      for (const key of Object.keys(input)) {
        if (Object.hasOwn(fields, key)) continue
        const near = nearest(key, names)
        issues.push({
          _tag: "Unexpected",
          path: [key],
          message: near === undefined ? "unknown option" : `unknown option; did you mean ${near}?`
        })
      }
    }
    if (issues.length === 0 && options.check !== undefined) issues.push(...options.check(value as A))
    return issues.length === 0 ? ok(value as A) : { ok: false, issues }
  }
})

/**
 * A piece's options reader: the options read (none given: the defaults), or it throws {@link InvalidOptions}
 * whose message lists each problem as `path: message`.
 *
 * @internal
 */
export const reader = <A, I = unknown>(of: string, options: Field<A>) => (input?: I | A): A => {
  const read = options.read(input === undefined ? {} : input)
  if (read.ok) return read.value
  throw invalid(of, read.issues)
}

/**
 * One argument of a combinator (`name` of `of`), read by `field` whether given or not (a field's default is not
 * used), or it throws {@link InvalidOptions} naming it, as {@link reader} does an option.
 *
 * @internal
 */
export const argument = <A>(of: string, name: string, field: Field<A>) => (input: unknown): A => {
  const read = field.read(input)
  if (read.ok) return read.value
  throw invalid(of, read.issues.map((issue) => ({ ...issue, path: [name, ...issue.path] })))
}

// Each problem listed as `path: message`.
const invalid = (of: string, issues: ReadonlyArray<Issue>) => {
  const listed = issues.map((issue) =>
    `${issue.path.length > 0 ? issue.path.map(String).join(".") : "(options)"}: ${issue.message}`
  )
  return new InvalidOptions({ of, message: `Invalid ${of} options: ${listed.join("; ")}`, issues })
}
