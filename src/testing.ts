/**
 * @since 0.1.0
 */
export * as ScriptedModel from "./testing/ScriptedModel.js"

/**
 * @since 0.1.0
 */
export * as FaultServer from "./testing/FaultServer.js"

/**
 * @since 0.1.0
 */
export * as ThrottledModel from "./testing/ThrottledModel.js"
