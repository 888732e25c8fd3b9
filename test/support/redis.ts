import { FleetStoreRedis } from "effect-retry-layer/redis"
import * as Effect from "effect/Effect"
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { createServer } from "node:net"

/**
 * Where the Redis tests get a server: `REDIS_URL` (what .ci/run starts), else
 * a `redis-server` binary started per test file, else nothing, and the tests
 * say they were skipped. Tests that kill or pause Redis always start their own.
 */
export const redisBinary = spawnSync("redis-server", ["--version"]).status === 0
export const redisAvailable = Boolean(process.env.REDIS_URL) || redisBinary

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

const start = (port: number) =>
  Effect.async<ChildProcess, Error>((resume) => {
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
  })

const stopped = (child: ChildProcess) =>
  Effect.async<void>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
    child.once("exit", () => resume(Effect.void))
    child.kill("SIGKILL")
  })

/**
 * A redis-server of the test's own for the life of the scope, which the test
 * can kill, pause (SIGSTOP), resume and start again on the same port.
 */
export const ownRedis = Effect.gen(function*() {
  const port = yield* freePort
  let child = yield* start(port)
  yield* Effect.addFinalizer(() => stopped(child))
  return {
    host: "127.0.0.1",
    port,
    kill: Effect.suspend(() => stopped(child)),
    pause: Effect.sync(() => child.kill("SIGSTOP")),
    resume: Effect.sync(() => child.kill("SIGCONT")),
    restart: Effect.flatMap(Effect.suspend(() => start(port)), (next) => Effect.sync(() => (child = next)))
  }
})

/** A Redis server for the life of the scope: the one in REDIS_URL, or a fresh one. */
export const redisServer = Effect.gen(function*() {
  const url = process.env.REDIS_URL || undefined
  if (url !== undefined) {
    const parsed = new URL(url)
    return { host: parsed.hostname, port: Number(parsed.port || 6379) }
  }
  const own = yield* ownRedis
  return { host: own.host, port: own.port }
})

/** The fleet store on `server`, under a key prefix of its own so that tests sharing a server do not meet. */
export const redisStore = (
  server: { readonly host: string; readonly port: number },
  prefix: string,
  options: Partial<FleetStoreRedis.Options> = {}
) => FleetStoreRedis.layer({ host: server.host, port: server.port, prefix: `${prefix}:`, ...options })

export const uniquePrefix = (name: string) =>
  `test-${name}-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`
