/**
 * @since 0.2.0
 */
export * as FleetStoreRedis from "./core/FleetStoreRedis.js"
