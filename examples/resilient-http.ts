import { HttpClient } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { Effect, Layer, Logger, LogLevel } from "effect"
import { FleetStore, ResilientModel } from "effect-retry-layer"
import { ResilientHttpClient } from "effect-retry-layer/http"
import { FaultServer } from "effect-retry-layer/testing/server"

// The recommended stack around an HttpClient: retries with a budget -> circuit breaker -> adaptive rate limiter.
const Client = ResilientHttpClient.layer({ provider: "inventory", retry: { maxAttempts: 4 } }).pipe(
  Layer.provide(NodeHttpClient.layerUndici),
  Layer.provide(FleetStore.layerMemory)
)

const program = Effect.gen(function*() {
  // A loopback server: a 429 with a hint, then the answer.
  const server = yield* FaultServer.make()
  yield* server.enqueue(
    FaultServer.json(429, { error: { message: "slow down" } }, { headers: { "retry-after-ms": "100" } }),
    FaultServer.json(200, { items: 3 })
  )
  const client = yield* HttpClient.HttpClient
  const items = yield* Effect.flatMap(client.get(`${server.url}/stock`), (response) => response.json)
  const { limiter } = yield* ResilientModel.Policies
  const pace = yield* limiter!.state
  console.log(
    `stock ${JSON.stringify(items)} after ${(yield* server.requests).length} requests; ` +
      `limiter: ${pace.mode} at ${pace.rate.toFixed(2)}/s`
  )
})

Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(Client), Logger.withMinimumLogLevel(LogLevel.Error)))
