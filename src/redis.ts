/**
 * @since 0.1.0
 */
export * as FleetStoreRedis from "./core/FleetStoreRedis.js"
