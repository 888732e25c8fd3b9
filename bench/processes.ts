/**
 * The fleet on real processes, real Redis and the real clock: 4 Node
 * processes x 125 calls, all started at once, each the recommended stack
 * (`ResilientModel.layer()`, defaults) over the Anthropic adapter on
 * `FleetStoreRedis.layer` (defaults, 50 ms timeout), against a loopback
 * server that admits 300 requests a minute (a bucket that starts full and
 * refills at 5/s) and sends Anthropic's rate-limit headers on every answer,
 * `Retry-After` on its 429s. Rows: steady processes; processes that each block
 * their event loop 100-300 ms at a random moment of every second; Redis killed
 * 10 s into the run (each process then paces on its own for the rest); and, for
 * comparison, each process on a memory store of its own (no sharing), and
 * plain retries (`retry(fetch)`, this library's Promise bridge, defaults).
 *
 * The floor is the server's own: the first 300 calls at once, the other 200
 * at 5/s, plus one answer's latency. The machine's load average is recorded
 * with each row (the run shares the machine with the processes it measures).
 */
import { Effect } from "effect"
import { TokenLimitedModel } from "effect-retry-layer/testing"
import { FaultServer } from "effect-retry-layer/testing/server"
import { type ChildProcess, spawn } from "node:child_process"
import * as os from "node:os"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { ownRedis } from "../test/support/redis.js"
import { report } from "./support/report.js"

const processes = 4
const callsEach = 125
const perMinute = 300
const latencyMillis = 50
const floorSeconds = (Math.max(0, processes * callsEach - perMinute) * 60) / perMinute + latencyMillis / 1000

const provider = () => {
  const limits = TokenLimitedModel.providerLimits({ requests: perMinute })
  const counts = { requests: 0, refused: 0 }
  const server = FaultServer.make({
    handler: () => {
      const now = Date.now()
      counts.requests++
      const wait = limits.admit(now, { requests: 1 })
      const headers = limits.headers(now, "anthropic")
      if (wait === 0) {
        return FaultServer.stream(FaultServer.anthropicEvents(["ok"]), { headers, delayMillis: latencyMillis })
      }
      counts.refused++
      return FaultServer.json(429, { type: "error", error: { type: "rate_limit_error", message: "rate limited" } }, {
        headers: { ...headers, "retry-after": String(Math.ceil(wait / 1000)) },
        delayMillis: latencyMillis
      })
    }
  })
  return Effect.map(server, (s) => ({ url: s.url, counts: () => ({ ...counts }) }))
}

interface Outcome {
  readonly done: number
  readonly failed: number
  readonly fallbacks: number
  readonly firstFallback?: string
  readonly finishedAt: number
}

// A process of the Effect 3 line (`bench/support/fleetProcess.ts`), or of the Effect 4 line
// (`effect4/bench/fleetProcess.ts`, on effect4/dist with its own Effect).
const child = (args: ReadonlyArray<string>, line: "effect3" | "effect4" = "effect3") => {
  const path = (file: string) => fileURLToPath(new URL(file, import.meta.url))
  const [script, tsconfig, cwd] = line === "effect3"
    ? [path("./support/fleetProcess.ts"), path("./tsconfig.json"), path("../")]
    : [path("../effect4/bench/fleetProcess.ts"), path("../effect4/bench/tsconfig.json"), path("../effect4/")]
  const proc: ChildProcess = spawn(process.execPath, ["--import", "tsx", script, ...args], {
    cwd,
    env: { ...process.env, TSX_TSCONFIG_PATH: tsconfig },
    stdio: ["pipe", "pipe", "inherit"]
  })
  const lines = createInterface({ input: proc.stdout! })
  const ready = new Promise<void>((resolve) => lines.once("line", () => resolve()))
  const outcome = new Promise<Outcome>((resolve, reject) => {
    lines.on("line", (line) => {
      if (line.startsWith("{")) resolve(JSON.parse(line) as Outcome)
    })
    proc.on("exit", (code) => reject(new Error(`fleet process exited with ${code} before reporting`)))
  })
  // the process exits on its own once it reported; one that hangs is killed with the row
  const stop = Effect.sync(() => proc.exitCode === null && proc.kill("SIGKILL"))
  return { ready, outcome, go: () => proc.stdin!.write("go\n"), stop }
}

const row = (
  name: string,
  store: (prefix: string) => string,
  mode: "steady" | "stalls",
  meanwhile: Effect.Effect<void> = Effect.void,
  effect4?: "provider" | "provider-redis" | "builtins" | "builtins-times-3"
) =>
  Effect.gen(function*() {
    const server = yield* provider()
    const prefix = `bench-processes-${Date.now()}:`
    const children = yield* Effect.acquireRelease(
      Effect.sync(() =>
        Array.from({ length: processes }, () =>
          effect4 === undefined
            ? child([server.url, store(prefix), prefix, String(callsEach), mode])
            : child([server.url, effect4, String(callsEach), store(prefix), prefix], "effect4"))
      ),
      (children) => Effect.forEach(children, (c) => c.stop)
    )
    yield* Effect.promise(() => Promise.all(children.map((c) => c.ready)))
    const load = os.loadavg()[0]!
    const started = Date.now()
    children.forEach((c) => c.go())
    yield* Effect.forkScoped(meanwhile)
    const outcomes = yield* Effect.promise(() => Promise.all(children.map((c) => c.outcome)))
    const { refused, requests } = server.counts()
    const makespan = (Math.max(...outcomes.map((o) => o.finishedAt)) - started) / 1000
    return {
      setup: name,
      calls: processes * callsEach,
      done: outcomes.reduce((n, o) => n + o.done, 0),
      requests,
      throttled: refused,
      fraction429: Number((refused / requests).toFixed(4)),
      makespanSeconds: Number(makespan.toFixed(1)),
      floorSeconds: Number(floorSeconds.toFixed(1)),
      makespanOverFloor: Number((makespan / floorSeconds).toFixed(3)),
      storeFallbacks: outcomes.reduce((n, o) => n + o.fallbacks, 0),
      loadAverage: Number(load.toFixed(2)),
      firstFallback: outcomes.find((o) => o.firstFallback !== undefined)?.firstFallback
    }
  }).pipe(Effect.scoped)

export const run = () =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const redis = yield* ownRedis
    const rows = [
      yield* row("4 processes, one Redis (defaults)", () => String(redis.port), "steady"),
      yield* row(
        "4 processes, one Redis (defaults), each stalling 100-300 ms once a second",
        () => String(redis.port),
        "stalls"
      ),
      // before the row that kills Redis: it shares the same Redis
      yield* row(
        "Effect 4: 4 processes, one Redis (defaults): this line's Anthropic provider, its retry and fleet stack on " +
          "FleetStoreRedis",
        () => String(redis.port),
        "steady",
        Effect.void,
        "provider-redis"
      ),
      yield* row(
        "4 processes, one Redis (defaults), Redis killed 10 s in",
        () => String(redis.port),
        "steady",
        Effect.delay(redis.kill, "10 seconds")
      ),
      yield* row("4 processes, each its own memory store (no sharing)", () => "memory", "steady"),
      yield* row("4 processes, plain retries (retry(fetch) from effect-retry-layer/promise)", () => "plain", "steady"),
      yield* row(
        "Effect 4: 4 processes, the provider's defaults, each its own memory store (no sharing)",
        () => "",
        "steady",
        Effect.void,
        "provider"
      ),
      yield* row(
        "Effect 4 built-ins: withRateLimiter (token bucket, 300/min, memory store, times unset), retryTransient, " +
          "withCircuitBreaker",
        () => "",
        "steady",
        Effect.void,
        "builtins"
      ),
      yield* row(
        "Effect 4 built-ins, withRateLimiter with times: 3",
        () => "",
        "steady",
        Effect.void,
        "builtins-times-3"
      )
    ]
    report(
      "processes",
      `Real processes (${processes} x ${callsEach} calls at once, Redis and a loopback server at ${perMinute} ` +
        `requests/min with Anthropic's headers, ${latencyMillis} ms latency), ${os.cpus().length} cores`,
      rows
    )
  })))
