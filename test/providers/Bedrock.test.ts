import { describe, expect, it } from "@effect/vitest"
import { Retryable } from "effect-retry-layer"
import { Bedrock } from "effect-retry-layer/bedrock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

/** An error shaped like the AWS SDK v3's service exceptions. */
const awsError = (name: string, status: number, extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(`${name} happened`), {
    name,
    $fault: status >= 500 ? "server" : "client",
    $metadata: { httpStatusCode: status, requestId: "aws-req-1", attempts: 1 },
    ...extra
  })

describe("Bedrock classification", () => {
  it.each([
    "ThrottlingException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "ProvisionedThroughputExceededException"
  ])("%s is a throttling code and a transient RateLimitError, even with a 400", (code) => {
    expect(Bedrock.isThrottlingCode(code)).toBe(true)
    const error = Bedrock.fromAwsError(awsError(code, 400))
    expect(error._tag).toBe("RateLimitError")
    expect(Retryable.isTransient(error)).toBe(true)
    expect(error.errorType).toBe(code)
    expect(error.status).toBe(400)
    expect(error.requestId).toBe("aws-req-1")
    expect(error.message).toBe(`bedrock responded 400 ${code}: ${code} happened`)
  })

  it.each(
    [
      ["ServiceUnavailableException", 503, "ServerError"],
      ["ModelNotReadyException", 429, "ServerError"],
      ["InternalServerException", 500, "ServerError"],
      ["ModelTimeoutException", 408, "TimeoutError"]
    ] as const
  )("%s is a transient %s", (code, status, tag) => {
    const error = Bedrock.fromAwsError(awsError(code, status))
    expect(error._tag).toBe(tag)
    expect(Retryable.isTransient(error)).toBe(true)
    expect(Bedrock.isThrottlingCode(code)).toBe(false)
  })

  it.each(
    [
      ["ValidationException", 400, "InvalidRequestError"],
      ["AccessDeniedException", 403, "AuthenticationError"],
      ["ResourceNotFoundException", 404, "InvalidRequestError"]
    ] as const
  )("%s is a permanent %s", (code, status, tag) => {
    const error = Bedrock.fromAwsError(awsError(code, status))
    expect(error._tag).toBe(tag)
    expect(Retryable.isTransient(error)).toBe(false)
  })

  it("an unknown code falls back to the status", () => {
    expect(Bedrock.fromAwsError(awsError("SomethingNewException", 502))._tag).toBe("ServerError")
    expect(Bedrock.fromAwsError(awsError("SomethingNewException", 400))._tag).toBe("InvalidRequestError")
  })

  it("reads a Retry-After from the SDK's raw response", () => {
    const error = Bedrock.fromAwsError(
      awsError("ThrottlingException", 429, { $response: { headers: { "retry-after": "3" } } })
    )
    expect(error.retryAfter && Duration.toMillis(error.retryAfter)).toBe(3000)
  })

  it.each([
    ["a string", "boom"],
    ["undefined", undefined],
    ["a plain Error", new Error("boom")],
    ["headers of the wrong type", awsError("X", 500, { $response: { headers: { "retry-after": 5 } } })]
  ])("never throws and never retries what it cannot read: %s", (_, value) => {
    const error = Bedrock.fromAwsError(value)
    if (value instanceof Error && "name" in value && value.name === "X") expect(error._tag).toBe("ServerError")
    else expect(Retryable.isTransient(error)).toBe(false)
  })

  it.effect("classifies raw HTTP responses by x-amzn-errortype", () =>
    Effect.gen(function*() {
      const error = yield* Bedrock.fromResponse({
        status: 400,
        headers: { "x-amzn-errortype": "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/" },
        body: "{\"message\":\"Too many requests, please wait before trying again.\"}"
      })
      expect(error._tag).toBe("RateLimitError")
      expect(error.provider).toBe("bedrock")
    }))
})
