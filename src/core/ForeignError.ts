/**
 * The one place that recognises errors this library did not make: what an
 * HTTP client, `fetch`, the AWS SDK or your own code throws. A recognised
 * error is read as the {@link ModelError.Tag} it deserves (with its status and
 * the server's hint), and classified exactly as that `ModelError` would be;
 * an error nobody recognises stays `Permanent`, so a programming error is
 * never retried.
 *
 * Recognised, in order:
 * 1. An HTTP client's error, Effect 3's (`@effect/platform`) or Effect 4's
 *    (`effect/http`): a response's status by the status (and its
 *    `retry-after-ms`, `retry-after` and `x-should-retry` headers), a
 *    transport failure as a connection error; decode, encode and URL errors
 *    are permanent.
 * 2. Network errors: Node's `fetch` (`TypeError: fetch failed`, whatever its
 *    cause except a name that does not resolve) and any error whose `code`
 *    (or its cause's) is a connection failure: `ECONNRESET`, `ECONNREFUSED`,
 *    `ETIMEDOUT`, `EPIPE`, `EAI_AGAIN`, `ENETUNREACH`, `EHOSTUNREACH`,
 *    `UND_ERR_SOCKET`, `UND_ERR_CONNECT_TIMEOUT`, `UND_ERR_HEADERS_TIMEOUT`,
 *    `UND_ERR_BODY_TIMEOUT`, `UND_ERR_CLOSED`; and a `TimeoutError` from
 *    `AbortSignal.timeout`.
 * 3. A provider's error code in `name`, `code`, `type` or `__type` that one of
 *    the adapters' tables knows (`ThrottlingException`, `rate_limit_error`,
 *    `overloaded_error`, `insufficient_quota`, ...).
 * 4. A status: AWS SDK v3's `$metadata.httpStatusCode`, `status`,
 *    `statusCode` or `response.status`, by the same rule as the adapters
 *    ({@link ModelError.tagForStatus}).
 *
 * Hints: the error's own `retryAfter` (a `Duration`, or seconds), else the
 * delta forms of `retry-after-ms` / `retry-after` on its `headers`,
 * `response.headers` or `$response.headers` (a plain record in any case, or
 * a `Headers` object). An HTTP-date is not read here: there is no clock to
 * read it against inside a schedule step. Every hint is capped at a day by
 * whoever uses it.
 *
 * @example
 * ```ts
 * import { ForeignError } from "effect-retry-layer"
 *
 * ForeignError.recognize(new TypeError("fetch failed"))?.tag      // "ConnectionError"
 * ForeignError.recognize({ status: 503, headers: { "Retry-After": "2" } }) // ServerError, 2 s
 * ForeignError.recognize(new TypeError("x is not a function"))    // undefined: not retried
 * ```
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import { knownErrorTypes } from "./internal/errorTypes.js"
import * as ModelError from "./ModelError.js"
import * as Retryable from "./Retryable.js"
import * as RetryAfter from "./RetryAfter.js"

/**
 * What a foreign error was recognised as.
 *
 * @category models
 * @since 0.1.0
 */
export interface Recognized {
  readonly tag: ModelError.Tag
  readonly status?: number | undefined
  /** The provider's code, when one was read. */
  readonly errorType?: string | undefined
  readonly retryAfter?: Duration.Duration | undefined
  /** The server's `x-should-retry`, which overrides the tag's default. */
  readonly shouldRetry?: boolean | undefined
  /** AWS's `$metadata.requestId`, or a response's request id header. */
  readonly requestId?: string | undefined
}

/**
 * Reads a foreign error, or `undefined` when nothing about it is recognised.
 * A `ModelError` is not foreign: it classifies itself.
 *
 * @category classification
 * @since 0.1.0
 */
export const recognize = (error: unknown): Recognized | undefined => {
  if (!Predicate.isObject(error)) return undefined
  return safely(() =>
    ModelError.isModelError(error) ? undefined : httpClientError(error) ?? network(error) ?? byCodeOrStatus(error)
  )
}

/**
 * How a recognised foreign error classifies: as the `ModelError` of its tag
 * would, `x-should-retry` first. `None` when it is not recognised.
 *
 * @category classification
 * @since 0.1.0
 */
export const classify = (error: unknown): Option.Option<Retryable.RetryClassification> => {
  const recognized = recognize(error)
  if (recognized === undefined) return Option.none()
  return Option.some(
    (recognized.shouldRetry ?? ModelError.isTransientTag(recognized.tag))
      ? Retryable.transient(recognized.retryAfter)
      : Retryable.permanent
  )
}

// Internals -------------------------------------------------------------------

const field = (u: unknown, key: string): unknown => Predicate.hasProperty(u, key) ? u[key] : undefined

const text = (u: unknown, key: string): string | undefined => {
  const value = field(u, key)
  return Predicate.isString(value) && value !== "" ? value : undefined
}

// A getter that throws (a proxy, a hostile object) is an error nobody recognises, not a crash of the retry.
const safely = <A>(f: () => A): A | undefined => {
  try {
    return f()
  } catch {
    return undefined
  }
}

const httpClientErrorTypeId = Symbol.for("@effect/platform/HttpClientError")
const httpClientErrorTypeIdV4 = "~effect/http/HttpClientError"

// Effect 3: `RequestError` / `ResponseError` with a `reason` string. Effect 4: one `HttpClientError` whose
// `reason` is an object tagged `TransportError`, `StatusCodeError`, ... and carries the response.
const httpClientError = (error: object): Recognized | undefined => {
  if (httpClientErrorTypeId in error) {
    const tag = field(error, "_tag")
    const reason = field(error, "reason")
    if (tag === "RequestError") return { tag: reason === "Transport" ? "ConnectionError" : "InvalidRequestError" }
    if (tag !== "ResponseError") return undefined
    return fromResponse(reason === "StatusCode", field(error, "response"))
  }
  if (!(httpClientErrorTypeIdV4 in error)) return undefined
  const reason = field(field(error, "reason"), "_tag")
  if (reason === "TransportError") return { tag: "ConnectionError" }
  return fromResponse(reason === "StatusCodeError", field(field(error, "reason"), "response"))
}

const fromResponse = (byStatus: boolean, response: unknown): Recognized => {
  const status = statusOf(field(response, "status"))
  if (!byStatus || status === undefined) return { tag: "InvalidRequestError", status }
  return withHints({ tag: ModelError.tagForStatus(status), status }, field(response, "headers"))
}

const networkCodes = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "EAI_AGAIN",
  "ENETUNREACH",
  "ENETDOWN",
  "EHOSTUNREACH",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_CLOSED"
])

const network = (error: object): Recognized | undefined => {
  const cause = field(error, "cause")
  const code = text(error, "code") ?? text(cause, "code")
  if (code !== undefined && networkCodes.has(code)) return { tag: "ConnectionError" }
  // Node's fetch rejects every network failure with this one TypeError; only a host that does not resolve
  // is a mistake to report rather than a failure to retry.
  if (error instanceof TypeError && error.message === "fetch failed") {
    return code === "ENOTFOUND" ? undefined : { tag: "ConnectionError" }
  }
  if (text(error, "name") === "TimeoutError" && !("$metadata" in error)) return { tag: "TimeoutError" }
  return undefined
}

const byCodeOrStatus = (error: object): Recognized | undefined => {
  const metadata = field(error, "$metadata")
  const status = statusOf(field(metadata, "httpStatusCode")) ?? statusOf(field(error, "status")) ??
    statusOf(field(error, "statusCode")) ?? statusOf(field(field(error, "response"), "status"))
  const errorType = ["name", "code", "type", "__type"].map((key) => text(error, key)?.split("#").at(-1)).find((
    code
  ) => code !== undefined && knownErrorTypes[code] !== undefined)
  // AWS SDK v3 marks throttling it knows of, whatever the code.
  const throttling = Predicate.isObject(field(error, "$retryable")) &&
    field(field(error, "$retryable"), "throttling") === true
  const tag = errorType !== undefined
    ? knownErrorTypes[errorType]!
    : throttling
    ? "RateLimitError"
    : status !== undefined
    ? ModelError.tagForStatus(status)
    : undefined
  if (tag === undefined) return undefined
  const requestId = text(metadata, "requestId")
  const own = field(error, "retryAfter")
  const hinted = withHints(
    { tag, status, errorType, requestId },
    field(error, "headers") ?? field(field(error, "response"), "headers") ??
      field(field(error, "$response"), "headers")
  )
  if (Duration.isDuration(own)) return { ...hinted, retryAfter: own }
  if (Predicate.isNumber(own) && Number.isFinite(own) && own >= 0) {
    return { ...hinted, retryAfter: Duration.seconds(own) }
  }
  return hinted
}

const statusOf = (u: unknown): number | undefined => {
  const n = Predicate.isString(u) && /^\d{3}$/.test(u) ? Number(u) : u
  return Predicate.isNumber(n) && Number.isInteger(n) && n >= 100 && n <= 599 ? n : undefined
}

const withHints = (recognized: Recognized, headers: unknown): Recognized => {
  const record = headerRecord(headers)
  if (record === undefined) return recognized
  const millis = RetryAfter.header(record, "retry-after-ms")
  const seconds = RetryAfter.header(record, "retry-after")
  const retryAfter = Option.orElse(
    millis === undefined ? Option.none() : RetryAfter.parseMillis(millis),
    () => seconds === undefined || !/^\d/.test(seconds) ? Option.none() : RetryAfter.parseRetryAfter(seconds, 0)
  )
  const shouldRetry = RetryAfter.xShouldRetry(record)
  return {
    ...recognized,
    ...(Option.isSome(retryAfter) ? { retryAfter: retryAfter.value } : {}),
    ...(Option.isSome(shouldRetry) ? { shouldRetry: shouldRetry.value } : {})
  }
}

const hintHeaders = ["retry-after-ms", "retry-after", "x-should-retry"] as const

// The three headers a hint is read from, by lower-case name, from a `Headers`-like object or a record in any
// case. Only those are copied, and at most 256 keys are looked at.
const headerRecord = (headers: unknown): RetryAfter.HeaderRecord | undefined => {
  if (!Predicate.isObject(headers)) return undefined
  const get = field(headers, "get")
  const record: Record<string, string> = {}
  if (Predicate.isFunction(get)) {
    for (const name of hintHeaders) {
      const value: unknown = get.call(headers, name)
      if (Predicate.isString(value)) record[name] = value
    }
    return record
  }
  let looked = 0
  for (const key in headers) {
    if (++looked > 256) break
    const name = key.toLowerCase()
    if ((hintHeaders as ReadonlyArray<string>).includes(name)) {
      const value = field(headers, key)
      const first: unknown = Array.isArray(value) ? value[0] : value
      if (Predicate.isString(first)) record[name] = first
    }
  }
  return record
}
