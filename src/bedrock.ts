/**
 * @since 0.1.0
 */
export * as Bedrock from "./providers/Bedrock.js"
