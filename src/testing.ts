/**
 * Test doubles that run anywhere: a scripted model and a throttled model. The
 * loopback `FaultServer` (Node only) is in `effect-retry-layer/testing/server`.
 */
/**
 * @since 0.1.0
 */
export * as ScriptedModel from "./testing/ScriptedModel.js"

/**
 * @since 0.1.0
 */
export * as ThrottledModel from "./testing/ThrottledModel.js"

/**
 * @since 0.1.0
 */
export * as TokenLimitedModel from "./testing/TokenLimitedModel.js"
