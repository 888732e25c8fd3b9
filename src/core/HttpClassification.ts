/**
 * The one place an HTTP failure becomes a {@link ModelError}: every adapter in
 * this library uses it, and so can yours.
 *
 * The tag comes from, in order:
 * 1. the provider's own error type, when the provider's table knows it
 *    (`overloaded_error`, `ThrottlingException`, `insufficient_quota`, ...);
 * 2. the status: 408 timeout; 409, 425 conflict; 429 rate limit; 529
 *    overloaded; other 5xx server error (transient); 401, 403
 *    authentication; 400, 404, 413, 422 and other 4xx invalid request
 *    (permanent).
 *
 * The server's `x-should-retry` then overrides the tag's default
 * classification, and `retry-after-ms` / `retry-after` become `retryAfter`.
 * The request id (`request-id`, `x-request-id`, `x-amzn-requestid`,
 * `apim-request-id`) and the provider's error type and message, read from the
 * JSON body, complete the error.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { HttpClassification } from "effect-retry-layer"
 *
 * const error = HttpClassification.fromResponse({
 *   provider: "my-gateway",
 *   status: 503,
 *   headers: { "retry-after": "2", "x-request-id": "req_123" },
 *   body: "{\"error\":{\"message\":\"try later\"}}"
 * }) // Effect<ServerError { status: 503, retryAfter: 2 seconds, requestId: "req_123", ... }>
 * ```
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import type * as Redacted from "effect/Redacted"
import { isRecord } from "../internal/compat.js"
import * as Text from "./internal/text.js"
import * as ModelError from "./ModelError.js"
import * as RateLimitHeaders from "./RateLimitHeaders.js"
import * as RetryAfter from "./RetryAfter.js"

/**
 * A provider's own error types, mapped to the tag they deserve. Consulted
 * before the status, so a throttling code sent with a 400 is still a rate limit.
 *
 * @category models
 * @since 0.1.0
 */
export type ErrorTypeTable = Readonly<Record<string, ModelError.Tag>>

/**
 * Everything the classification reads from a failed response.
 *
 * @category models
 * @since 0.1.0
 */
export interface FailedResponse {
  readonly provider: string
  readonly status: number
  readonly headers: RetryAfter.HeaderRecord
  /** The response body as text; need not be JSON. */
  readonly body: string
  readonly errorTypes?: ErrorTypeTable
  /** Values (an API key) to scrub from any text taken from the response, should the server echo them. */
  readonly secrets?: ReadonlyArray<Redacted.Redacted>
}

/**
 * The request id a provider attached to its response.
 *
 * @category utils
 * @since 0.1.0
 */
export const requestId = (headers: RetryAfter.HeaderRecord): string | undefined => {
  for (const name of ["request-id", "x-request-id", "x-amzn-requestid", "apim-request-id"]) {
    const value = RetryAfter.header(headers, name)
    if (value !== undefined && value !== "") return value
  }
  return undefined
}

/**
 * What a provider said about its error.
 *
 * @category models
 * @since 0.1.0
 */
export interface ErrorDetails {
  /** Every error type or code the response carried, most specific first. */
  readonly errorTypes: ReadonlyArray<string>
  readonly message: string | undefined
}

// The shapes providers use: Anthropic `{type:"error", error:{type,message}}`, OpenAI
// `{error:{message,type,code}}`, AWS `{message}` / `{Message}` / `{__type}`.
interface ErrorBody {
  readonly error?: string | {
    readonly type?: string | null
    readonly code?: string | number | null
    readonly message?: string | null
  }
  readonly type?: string
  readonly code?: string
  readonly __type?: string
  readonly message?: string
  readonly Message?: string
}

// By hand rather than with Schema: this module is shared by both Effect lines, whose Schema APIs differ. As the
// Schema it replaces did, a field of the wrong type rejects the whole body.
const readErrorBody = (body: string): Option.Option<ErrorBody> => {
  let json: unknown
  try {
    json = JSON.parse(body)
  } catch {
    return Option.none()
  }
  if (!isRecord(json)) return Option.none()
  const { error } = json
  const fields = [json.type, json.code, json.__type, json.message, json.Message]
  const nested = error === undefined || typeof error === "string" ||
    isRecord(error) && nullOr(error.type, Predicate.isString) && nullOr(error.message, Predicate.isString) &&
      nullOr(error.code, (code) => Predicate.isString(code) || typeof code === "number")
  return nested && fields.every((field) => field === undefined || Predicate.isString(field))
    ? Option.some(json as ErrorBody)
    : Option.none()
}

const nullOr = (u: unknown, ok: (u: unknown) => boolean): boolean => u === undefined || u === null || ok(u)

const present = <A>(values: ReadonlyArray<A | null | undefined>): Array<A> =>
  values.filter((value): value is A => value !== null && value !== undefined && value !== "")

/**
 * Reads the provider's error types and message from a response body (and the
 * AWS `x-amzn-errortype` header). A body that is not JSON, or not of a known
 * shape, gives no types and no message.
 *
 * @category utils
 * @since 0.1.0
 */
export const errorDetails = (body: string, headers: RetryAfter.HeaderRecord = {}): ErrorDetails => {
  const amzn = RetryAfter.header(headers, "x-amzn-errortype")?.split(":")[0]
  return Option.match(readErrorBody(body), {
    onNone: () => ({ errorTypes: present([amzn]), message: undefined }),
    onSome: (json) => {
      const nested = typeof json.error === "object" ? json.error : undefined
      const code = nested?.code
      return {
        // The code before the type: OpenAI's 401 is type `invalid_request_error`, code `invalid_api_key`.
        errorTypes: present([
          code === undefined || code === null ? undefined : String(code),
          nested?.type,
          json.__type?.split("#").at(-1),
          json.code,
          json.type === "error" ? undefined : json.type,
          amzn
        ]),
        message: nested?.message ?? (typeof json.error === "string" ? json.error : undefined) ?? json.message ??
          json.Message
      }
    }
  })
}

// The tag of the first error type the table knows, and the type to report: that one, else the most specific.
const classifyTypes = (
  details: ErrorDetails,
  table: ErrorTypeTable
): readonly [ModelError.Tag | undefined, string | undefined] => {
  const known = details.errorTypes.find((errorType) => table[errorType] !== undefined)
  return [known === undefined ? undefined : table[known], known ?? details.errorTypes[0]]
}

// The start of a body that is not an error document, on one line, scrubbed and cut to 200 characters.
const snippet = (body: string, secrets: ReadonlyArray<Redacted.Redacted> | undefined): string =>
  safeText(body.replace(/\s+/g, " ").trim(), secrets, 200)

/**
 * The most characters of text taken from a response (a provider's error
 * message) that an error keeps, and so that a log line carries: 2 KiB.
 *
 * @category constants
 * @since 0.1.0
 */
export const maxMessageChars: number = Text.maxMessageChars

/**
 * Text taken from a response, made safe to keep on an error and to log:
 * each secret (an API key a server echoed) and each recognised key format
 * (Anthropic's and OpenAI's API keys, AWS access key ids, held or not)
 * replaced by `[redacted]`, then cut to `max` characters (default
 * {@link maxMessageChars}) and marked `... (truncated)`. Scrubbed before it
 * is cut, so a secret that straddles the cut is not half quoted.
 *
 * @category utils
 * @since 0.1.0
 */
export const safeText = (
  text: string,
  secrets: ReadonlyArray<Redacted.Redacted> = [],
  max: number = maxMessageChars
): string => Text.quoted(text, secrets, max)

/**
 * Classifies a failed response, reading `Retry-After` dates against `now`
 * (epoch milliseconds).
 *
 * @category classification
 * @since 0.1.0
 */
export const fromResponseAt = (response: FailedResponse, now: number): ModelError.ModelError => {
  const details = errorDetails(response.body, response.headers)
  const table = response.errorTypes ?? {}
  const [known, errorType] = classifyTypes(details, table)
  const id = requestId(response.headers)
  const retryAfter = RetryAfter.parse(response.headers, now)
  const shouldRetry = RetryAfter.xShouldRetry(response.headers)
  const rateLimit = RateLimitHeaders.parse(response.headers, now)
  const said = details.message === undefined
    ? response.body.trim() === "" ? "no body" : snippet(response.body, response.secrets)
    : details.message.trim() === ""
    ? "(an empty message)"
    : safeText(details.message, response.secrets)
  return ModelError.make(known ?? ModelError.tagForStatus(response.status), {
    provider: response.provider,
    message: `${response.provider} responded ${response.status}${
      errorType ? ` ${safeText(errorType, response.secrets)}` : ""
    }: ${said}`,
    status: response.status,
    ...(id === undefined ? {} : { requestId: id }),
    ...(errorType === undefined ? {} : { errorType: safeText(errorType, response.secrets) }),
    ...Option.match(retryAfter, { onNone: () => ({}), onSome: (d) => ({ retryAfter: d }) }),
    ...Option.match(shouldRetry, { onNone: () => ({}), onSome: (b) => ({ shouldRetry: b }) }),
    ...Option.match(rateLimit, { onNone: () => ({}), onSome: (state) => ({ rateLimit: state }) })
  })
}

/**
 * Classifies a failed response, reading `Retry-After` dates against `Clock`.
 *
 * @category classification
 * @since 0.1.0
 */
export const fromResponse = (response: FailedResponse): Effect.Effect<ModelError.ModelError> =>
  Effect.map(Clock.currentTimeMillis, (now) => fromResponseAt(response, now))

/**
 * Classifies an error that arrives inside an open stream (Anthropic's `error`
 * event, OpenAI's `{"error": ...}` data). There is no status, so a type the
 * provider's table does not know is a `StreamError`.
 *
 * @category classification
 * @since 0.1.0
 */
export const fromErrorEvent = (event: {
  readonly provider: string
  readonly data: string
  readonly errorTypes: ErrorTypeTable
  readonly requestId?: string | undefined
  readonly secrets?: ReadonlyArray<Redacted.Redacted>
}): ModelError.ModelError => {
  const details = errorDetails(event.data)
  const [known, type] = classifyTypes(details, event.errorTypes)
  const errorType = type === undefined ? undefined : safeText(type, event.secrets)
  return ModelError.make(known ?? "StreamError", {
    provider: event.provider,
    message: `${event.provider} sent an error mid-stream${errorType ? ` (${errorType})` : ""}: ${
      details.message !== undefined ? safeText(details.message, event.secrets) : snippet(event.data, event.secrets)
    }`,
    ...(event.requestId === undefined ? {} : { requestId: event.requestId }),
    ...(errorType === undefined ? {} : { errorType })
  })
}
