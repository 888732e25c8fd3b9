import * as RateLimiterRedis from "@effect/experimental/RateLimiter/Redis"
import * as Effect from "effect/Effect"
import { spawn, spawnSync } from "node:child_process"
import { createServer } from "node:net"

/**
 * Where the Redis tests get a server: `REDIS_URL` (what .ci/run starts), else
 * a `redis-server` binary started per test file, else nothing, and the tests
 * say they were skipped.
 */
export const redisAvailable = Boolean(process.env.REDIS_URL) ||
  spawnSync("redis-server", ["--version"]).status === 0

if (!redisAvailable) {
  console.warn("SKIPPING Redis store tests: no REDIS_URL and no redis-server binary on this machine")
}

const freePort = Effect.async<number>((resume) => {
  const server = createServer()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** A Redis server for the life of the scope: the one in REDIS_URL, or a fresh one. */
export const redisServer = Effect.gen(function*() {
  const url = process.env.REDIS_URL || undefined
  if (url !== undefined) {
    const parsed = new URL(url)
    return { host: parsed.hostname, port: Number(parsed.port || 6379) }
  }
  const port = yield* freePort
  yield* Effect.acquireRelease(
    Effect.async<ReturnType<typeof spawn>, Error>((resume) => {
      const child = spawn("redis-server", [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no"
      ])
      let output = ""
      child.stdout.on("data", (data: Buffer) => {
        output += data.toString()
        if (output.includes("Ready to accept connections")) resume(Effect.succeed(child))
      })
      child.on("exit", (code) => resume(Effect.fail(new Error(`redis-server exited (${code}): ${output}`))))
    }),
    (child) => Effect.sync(() => child.kill())
  )
  return { host: "127.0.0.1", port }
})

/**
 * `@effect/experimental`'s Redis `RateLimiterStore` on `server`, under a key
 * prefix of its own so that tests sharing a server do not meet.
 */
export const redisStore = (server: { readonly host: string; readonly port: number }, prefix: string) =>
  RateLimiterRedis.layerStore({ host: server.host, port: server.port, prefix: `${prefix}:`, lazyConnect: false })

export const uniquePrefix = (name: string) =>
  `test-${name}-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`
