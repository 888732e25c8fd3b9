/**
 * The loopback fault server (shared with the Effect 3 line): scripted replies in each provider's shape, a 429, a
 * 529, a stream that breaks or stalls, over real sockets; and the admission rules of the simulated servers the
 * benches and tests use (a throttle's token bucket, a provider's limits per minute with its headers).
 *
 * @since 1.0.0
 */
export * as FaultServer from "../core/testing/FaultServer.js"

/**
 * A throttling server's admission rule.
 *
 * @since 1.0.0
 */
export * as Throttle from "../core/testing/throttle.js"

/**
 * A provider's limits per minute, as a server keeps them, and its rate-limit headers.
 *
 * @since 1.0.0
 */
export * as ProviderLimits from "../core/testing/providerLimits.js"
