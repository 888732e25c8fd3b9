import * as Redacted from "effect/Redacted"

/**
 * The most characters of a message (a provider's, or any error's) that is
 * kept on an error, written to a log line or searched: 2 KiB.
 *
 * @internal
 */
export const maxMessageChars = 2048

/**
 * Credentials recognised by their format wherever this library quotes text,
 * whether or not it holds them (an `@effect/ai` client was given the key):
 * Anthropic's and OpenAI's API keys (`sk-ant-...`, `sk-proj-...`, `sk-...`)
 * and AWS access key ids (`AKIA...`, `ASIA...`).
 */
const keyFormats = /\bsk-[A-Za-z0-9_-]{16,}|\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g

/**
 * The one way text from outside (a response's body, an error's message) is
 * made safe to keep on an error, a log line or a span: every secret held
 * (`secrets`: a value of fewer than 8 characters would redact ordinary words
 * and is not used) and every recognised key format ({@link keyFormats})
 * replaced by `[redacted]`, *then* cut to `max` characters and marked
 * `... (truncated)`. Scrubbed before the cut, a secret that straddles it is
 * not half quoted. Only the start of a long text is read: `max` characters
 * and a margin of the longest secret (at least 256) past them.
 *
 * @internal
 */
export const quoted = (
  text: string,
  secrets: ReadonlyArray<Redacted.Redacted> = [],
  max: number = maxMessageChars
): string => {
  const values = secrets.flatMap((secret) => {
    const value = Redacted.value(secret)
    return typeof value === "string" && value.length >= 8 ? [value] : []
  })
  const margin = Math.max(256, ...values.map((value) => value.length))
  const sliced = text.length > max + margin
  let safe = sliced ? text.slice(0, max + margin) : text
  for (const value of values) safe = safe.replaceAll(value, "[redacted]")
  safe = safe.replace(keyFormats, "[redacted]")
  // A secret cut off where the reading stopped is not whole, so nothing above recognised it; it lies within the
  // last `margin` characters read, which scrubbing may have moved below the cut: they go. What is kept is then
  // marked as cut, even when scrubbing left it short.
  if (sliced) safe = safe.slice(0, safe.length - margin)
  return sliced || safe.length > max ? `${safe.slice(0, max)}... (truncated)` : safe
}
