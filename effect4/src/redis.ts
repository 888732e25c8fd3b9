/**
 * The fleet store on Redis, over `ioredis` (an optional peer dependency: install it to use this entry).
 *
 * @since 1.0.0
 */
export * as FleetStoreRedis from "./core/FleetStoreRedis.js"
