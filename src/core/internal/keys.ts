/**
 * The store keys of one limiter: its send bucket and its provider quota. One
 * place, since the fleet store's fall-back paces a quota at the share it
 * measured on the send bucket of the same limiter.
 *
 * @internal
 */
export const sendBucket = (key: string): string => `limiter:${key}`

/** @internal */
export const quota = (key: string): string => `quota:${key}`

/** The send bucket of the limiter that owns a quota key. @internal */
export const sendBucketOfQuota = (quotaKey: string): string => sendBucket(quotaKey.slice("quota:".length))
