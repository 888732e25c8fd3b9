/**
 * The loopback HTTP server that speaks each provider's wire format, with
 * faults on cue. Its own entry because it needs `node:http`: the rest of
 * `effect-retry-layer/testing` runs anywhere (a browser, an edge runtime).
 *
 * @since 0.1.0
 */
export * as FaultServer from "./FaultServer.js"
