// The error codes each adapter knows, and the tag each deserves: one definition, read by the adapters and by
// the recognition of foreign errors (`ForeignError`), so "throttling" means the same codes everywhere.
import type { ErrorTypeTable } from "../HttpClassification.js"

/** @internal */
export const anthropic: ErrorTypeTable = {
  invalid_request_error: "InvalidRequestError",
  authentication_error: "AuthenticationError",
  permission_error: "AuthenticationError",
  not_found_error: "InvalidRequestError",
  request_too_large: "InvalidRequestError",
  billing_error: "QuotaExceededError",
  rate_limit_error: "RateLimitError",
  api_error: "ServerError",
  timeout_error: "TimeoutError",
  overloaded_error: "OverloadedError"
}

/** Codes and types, consulted before the status and for errors inside a stream. @internal */
export const openai: ErrorTypeTable = {
  insufficient_quota: "QuotaExceededError",
  rate_limit_exceeded: "RateLimitError",
  server_error: "ServerError",
  invalid_api_key: "AuthenticationError",
  invalid_request_error: "InvalidRequestError"
}

/** AWS error codes; AWS reports throttling by code, sometimes with a 400. @internal */
export const bedrock: ErrorTypeTable = {
  ThrottlingException: "RateLimitError",
  TooManyRequestsException: "RateLimitError",
  RequestLimitExceeded: "RateLimitError",
  ProvisionedThroughputExceededException: "RateLimitError",
  ServiceUnavailableException: "ServerError",
  ModelNotReadyException: "ServerError",
  InternalServerException: "ServerError",
  ModelTimeoutException: "TimeoutError",
  ModelStreamErrorException: "ServerError",
  ValidationException: "InvalidRequestError",
  ResourceNotFoundException: "InvalidRequestError",
  AccessDeniedException: "AuthenticationError",
  UnrecognizedClientException: "AuthenticationError"
}

/** Names other SDKs give their rate-limit errors. @internal */
const generic: ErrorTypeTable = {
  RateLimitError: "RateLimitError",
  RateLimitExceeded: "RateLimitError"
}

/** Every table at once, for errors whose provider is not known. @internal */
export const knownErrorTypes: ErrorTypeTable = { ...generic, ...anthropic, ...openai, ...bedrock }
