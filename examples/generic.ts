import { HttpClient } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { Data, Effect, Logger, LogLevel } from "effect"
import { HttpClassification, Retryable, RetryAcquisition } from "effect-retry-layer"
import { FaultServer } from "effect-retry-layer/testing/server"

// 1. An HTTP call: non-2xx answers become classified errors (status, Retry-After, request id).
const getJson = (url: string) =>
  Effect.gen(function*() {
    const response = yield* HttpClient.get(url).pipe(Effect.orDie)
    if (response.status >= 400) {
      const body = yield* Effect.orDie(response.text)
      const failure = { provider: "inventory", status: response.status, headers: response.headers, body }
      return yield* Effect.flatMap(HttpClassification.fromResponse(failure), Effect.fail)
    }
    return yield* Effect.orDie(response.json)
  })

// 2. A database connection: the pool's own error says it is worth another try.
class PoolExhausted extends Data.TaggedError("PoolExhausted") {
  [Retryable.symbol]() {
    return Retryable.transient()
  }
}
let connects = 0
const connect = Effect.suspend(() =>
  ++connects < 3 ? Effect.fail(new PoolExhausted()) : Effect.succeed({ id: connects })
)

const program = Effect.gen(function*() {
  const server = yield* FaultServer.make()
  yield* server.enqueue(
    FaultServer.json(503, { error: { message: "warming up" } }, { headers: { "retry-after": "0.05" } }),
    FaultServer.json(200, { items: 3 })
  )
  const stock = yield* getJson(`${server.url}/stock`).pipe(
    RetryAcquisition.retryAcquisition({ maxAttempts: 3, baseDelay: "20 millis", maxElapsed: "5 seconds" }, {
      name: "inventory.get"
    })
  )
  const connection = yield* connect.pipe(
    RetryAcquisition.retryAcquisition({ maxAttempts: 5, baseDelay: "10 millis", timeout: "1 second" }, {
      name: "db.connect"
    })
  )
  console.log(
    `stock ${JSON.stringify(stock)} after ${
      (yield* server.requests).length
    } requests; connection ${connection.id} after ${connects} tries`
  )
})

Effect.runPromise(
  program.pipe(Effect.scoped, Effect.provide(NodeHttpClient.layerUndici), Logger.withMinimumLogLevel(LogLevel.Error))
)
