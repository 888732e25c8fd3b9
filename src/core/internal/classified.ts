import * as Retryable from "../Retryable.js"

/**
 * A failure as a retry schedule sees it, where something other than the
 * failure itself decides how it classifies (the Promise bridge's `retryOn`, a
 * response's status, an `@effect/ai` error): the value to give back when
 * retries end, its classification, and what the logs and spans should say
 * about it (`_tag`, `message`, `status`, as `RetryAcquisition` reads them).
 *
 * @internal
 */
export class Classified<A> implements Retryable.Retryable {
  readonly _tag?: string
  readonly message?: string
  readonly status?: number
  constructor(
    readonly value: A,
    readonly classification: Retryable.RetryClassification,
    described?: { readonly _tag: string; readonly message: string; readonly status?: number | undefined }
  ) {
    if (described !== undefined) {
      this._tag = described._tag
      this.message = described.message
      if (described.status !== undefined) this.status = described.status
    }
  }
  [Retryable.symbol]() {
    return this.classification
  }
}
