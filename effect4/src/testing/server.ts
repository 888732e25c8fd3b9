/**
 * The loopback fault server (shared with the Effect 3 line): scripted replies in each provider's shape, a 429, a
 * 529, a stream that breaks or stalls, over real sockets.
 *
 * @since 1.0.0
 */
export * as FaultServer from "../core/testing/FaultServer.js"
