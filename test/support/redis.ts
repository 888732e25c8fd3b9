import { FleetStoreRedis } from "effect-retry-layer/redis"
import * as Effect from "effect/Effect"
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"

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

const start = (port: number, extra: ReadonlyArray<string> = []) =>
  Effect.async<ChildProcess, Error>((resume) => {
    const child = spawn("redis-server", [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      ...extra
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

/**
 * A Redis Cluster of the test's own for the life of the scope: three masters on loopback (no replicas), its
 * slots spread over them by `redis-cli --cluster create`. `kill(i)` stops node `i` for good.
 */
export const ownCluster = Effect.gen(function*() {
  const dir = yield* Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "erl-cluster-"))),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  )
  const ports = [yield* freePort, yield* freePort, yield* freePort]
  const nodes = yield* Effect.forEach(ports, (port) =>
    Effect.acquireRelease(
      start(port, ["--cluster-enabled", "yes", "--cluster-config-file", join(dir, `nodes-${port}.conf`), "--dir", dir]),
      stopped
    ))
  const created = spawnSync("redis-cli", [
    "--cluster",
    "create",
    ...ports.map((port) => `127.0.0.1:${port}`),
    "--cluster-replicas",
    "0",
    "--cluster-yes"
  ], { encoding: "utf8", timeout: 30_000 })
  if (created.status !== 0) return yield* Effect.fail(new Error(`redis-cli --cluster create: ${created.stdout}`))
  // Until every node agrees that all slots are served.
  for (let i = 0; i < 300; i++) {
    const states = ports.map((port) =>
      spawnSync("redis-cli", ["-p", String(port), "cluster", "info"], { encoding: "utf8" }).stdout
    )
    if (states.every((info) => info.includes("cluster_state:ok"))) break
    yield* Effect.sleep("100 millis")
  }
  return {
    nodes: ports.map((port) => ({ host: "127.0.0.1", port })),
    /** The port of the node serving `key`'s slot. */
    nodeOf: (key: string) => {
      const slot = Number(
        spawnSync("redis-cli", ["-p", String(ports[0]), "cluster", "keyslot", key], {
          encoding: "utf8"
        }).stdout.trim()
      )
      const slots = spawnSync("redis-cli", ["-p", String(ports[0]), "cluster", "slots"], { encoding: "utf8" }).stdout
      // `cluster slots` prints, per range: start, end, then the master's host and port
      const lines = slots.split("\n").map((line) => line.trim()).filter((line) => line !== "")
      for (let i = 0; i + 3 < lines.length; i++) {
        const [from, to, , port] = [Number(lines[i]), Number(lines[i + 1]), lines[i + 2], Number(lines[i + 3])]
        if (Number.isInteger(from) && Number.isInteger(to) && slot >= from && slot <= to && ports.includes(port)) {
          return port
        }
      }
      throw new Error(`no node serves slot ${slot}`)
    },
    kill: (i: number) => stopped(nodes[i]!)
  }
})

/** The fleet store on `server`, under a key prefix of its own so that tests sharing a server do not meet. */
export const redisStore = (
  server: { readonly host: string; readonly port: number },
  prefix: string,
  options: Partial<FleetStoreRedis.Options> = {}
) => FleetStoreRedis.layer({ host: server.host, port: server.port, prefix: `${prefix}:`, ...options })

export const uniquePrefix = (name: string) =>
  `test-${name}-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`
