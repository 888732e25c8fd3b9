/**
 * A fault-injecting HTTP server on loopback, for testing adapters and retry
 * behaviour over real sockets: the shared server (`core/testing/FaultServer`),
 * with its service tag and layer on this line.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Layer from "effect/Layer"
import type { Options, Server } from "../core/testing/FaultServer.js"
import { make } from "../core/testing/FaultServer.js"

export * from "../core/testing/FaultServer.js"

/**
 * @category tags
 * @since 0.1.0
 */
export class FaultServer extends Context.Tag("effect-retry-layer/testing/FaultServer")<FaultServer, Server>() {}

/**
 * Provides a {@link FaultServer} for the life of the layer.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const layer = (options?: Options): Layer.Layer<FaultServer> => Layer.scoped(FaultServer, make(options))
