/**
 * Test doubles for `@effect/ai` (an optional peer): a scripted
 * `LanguageModel`. Its own entry so that `effect-retry-layer/testing` never
 * loads `@effect/ai`.
 *
 * @since 0.1.0
 */
export * as ScriptedLanguageModel from "./ScriptedLanguageModel.js"
