import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import { decodeDuration, type DurationInput } from "../../internal/compat.js"

/**
 * How every option that takes a duration reads its input, without Schema (the
 * Promise entry validates its policy with this and must not load Schema).
 *
 * @internal
 */
export const describeDuration = "a Duration, a number of milliseconds or a string such as \"500 millis\""

/**
 * A `DurationInput` decoded, or what is wrong with it: not a duration, negative
 * or NaN (which `Duration.decode` would quietly make zero), and, as asked,
 * infinite or zero.
 *
 * @internal
 */
export const readDuration = (
  input: unknown,
  require: { readonly finite?: boolean; readonly positive?: boolean } = {}
): { readonly duration: Duration.Duration } | { readonly problem: string } => {
  const decoded = decodeDuration(input)
  if (Option.isNone(decoded)) return { problem: `expected ${describeDuration}, got ${show(input)}` }
  if (isNegativeOrNaN(input as DurationInput)) {
    return { problem: `expected a non-negative duration, got ${show(input)}` }
  }
  const duration = decoded.value
  if (require.finite === true && !Duration.isFinite(duration)) return { problem: "expected a finite duration" }
  if (require.positive === true && !(Duration.toMillis(duration) > 0)) {
    return { problem: "expected a positive duration" }
  }
  return { duration }
}

const isNegativeOrNaN = (input: DurationInput): boolean => {
  if (typeof input === "number") return !(input >= 0)
  if (typeof input === "bigint") return input < BigInt(0)
  if (typeof input === "string") return input.startsWith("-")
  if (Array.isArray(input)) return input.some((n) => !(n >= 0))
  return false
}

/** A value for a message, short whatever it is. @internal */
export const show = (u: unknown): string => {
  let text: string
  try {
    text = typeof u === "string" ? JSON.stringify(u) : typeof u === "bigint" ? `${u}n` : String(u)
  } catch {
    text = typeof u
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text
}
