/**
 * The Markdown tables the README and docs/performance.md show, rendered from
 * bench/results/*.json, so the text cannot drift from the measurements
 * (`test/docs.test.ts` checks each table is there verbatim).
 * `npx tsx bench/tables.ts` prints them all, to paste after a bench run.
 */
import { readFileSync } from "node:fs"

type Row = Record<string, unknown>
type Column = readonly [string, (row: Row) => unknown]

const results = (name: string): ReadonlyArray<Row> =>
  (JSON.parse(readFileSync(new URL(`./results/${name}.json`, import.meta.url), "utf8")) as { rows: Array<Row> }).rows

const format = (x: unknown): string => {
  if (x === null || x === undefined) return "never"
  if (typeof x === "number" && Number.isInteger(x) && x >= 10_000) return x.toLocaleString("en-US")
  return String(x)
}

const table = (rows: ReadonlyArray<Row>, columns: ReadonlyArray<Column>) =>
  [
    `| ${columns.map(([head]) => head).join(" | ")} |`,
    `| ${columns.map(() => "---").join(" | ")} |`,
    ...rows.map((row) => `| ${columns.map(([, cell]) => format(cell(row))).join(" | ")} |`)
  ].join("\n")

const percent = (digits: number) => (r: Row) => `${(100 * (r.succeeded as number)).toFixed(digits)}%`

const fleetColumns: ReadonlyArray<Column> = [
  ["strategy", (r) => r.strategy === "stack-defaults" ? `**${r.strategy}**` : r.strategy],
  ["makespan / floor", (r) => r.makespanOverFloor],
  ["calls per client", (r) => r.callsPerClient],
  ["succeeded", percent(2)],
  ["429s / calls", (r) => r.fraction429],
  ["p50 s", (r) => r.p50Seconds],
  ["p99 s", (r) => r.p99Seconds]
]

const tokenColumns: ReadonlyArray<Column> = [
  fleetColumns[0]!,
  ["processes", (r) => r.processes],
  ...fleetColumns.slice(1)
]

const effect4Columns: ReadonlyArray<Column> = [
  ["scenario", (r) => r.scenario],
  ["processes", (r) => r.processes],
  ["strategy", (r) => r.strategy === "e4 stack-defaults" ? `**${r.strategy}**` : r.strategy],
  ...fleetColumns.slice(1)
]

// The scenarios of latency under a shared limit (priorities, deadlines, tenants, a provider far above the load).
const latencyScenario = (r: Row) =>
  /^(mixed-priority|deadlines|tenants|interactive-100|random-503-headers)/.test(String(r.scenario))

/** Every table, by name. */
export const tables = (): Record<string, string> => {
  const fleet = results("fleet")
  const scenario = (name: string) => fleet.filter((r) => r.scenario === name)
  const overhead = results("overhead")
  const limiter = (r: Row) => String(r.group).startsWith("AdaptiveRateLimiter")
  const effect4 = results("fleet-effect4")
  return {
    headline: table(scenario("headline"), fleetColumns),
    "retry-after-30s": table(scenario("retry-after-30s"), fleetColumns),
    "retry-after-300ms": table(scenario("retry-after-300ms"), fleetColumns),
    "capacity-change": table(scenario("capacity-change"), [
      ...fleetColumns,
      ["s to 90% of the rise", (r) => r.secondsTo90]
    ]),
    "random-503": table(scenario("random-503"), fleetColumns),
    "random-503-headers": table(scenario("random-503-headers"), fleetColumns),
    "interactive-100": table(scenario("interactive-100"), fleetColumns),
    tenants: table(scenario("tenants"), [
      ["processes", (r) => r.processes],
      fleetColumns[0]!,
      ["answered", (r) => r.answered],
      ["requests per answer", (r) => r.requestsPerAnswer],
      ["a (weight 1)", (r) => (r.shares as Record<string, number>).a],
      ["b (weight 1)", (r) => (r.shares as Record<string, number>).b],
      ["c (weight 2)", (r) => (r.shares as Record<string, number>).c],
      ["largest share error", (r) => r.maxShareError],
      ["s until b's share is used", (r) => r.idleReuseSeconds]
    ]),
    deadlines: table(scenario("deadlines"), [
      ...fleetColumns.slice(0, 4),
      ["requests sent for calls that missed", (r) => r.sentThenMissed],
      ["refused unsent", (r) => r.refused],
      ["refusal p99 ms", (r) => r.refusalP99Millis ?? ""],
      ["sent, then missed", (r) => r.admittedMissed]
    ]),
    "mixed-priority": table(
      fleet.filter((r) => String(r.scenario).startsWith("mixed-priority")),
      [
        ["scenario", (r) => r.scenario],
        ["processes", (r) => r.processes],
        ...fleetColumns.slice(0, 4),
        ["batch p99 s", (r) => r.p99Seconds],
        ["interactive calls", (r) => r.interactiveCalls],
        ["interactive p50 s", (r) => r.interactiveP50Seconds],
        ["interactive p99 s", (r) => r.interactiveP99Seconds]
      ]
    ),
    "effect4-fleet": table(effect4.filter((r) => !latencyScenario(r)), [
      ...effect4Columns,
      ["s to 90% of the rise", (r) => "secondsTo90" in r ? r.secondsTo90 : ""]
    ]),
    "effect4-latency": table(effect4.filter(latencyScenario), [
      ...effect4Columns,
      ["interactive p99 s", (r) => r.interactiveP99Seconds ?? ""],
      ["requests sent for calls that missed", (r) => r.sentThenMissed ?? ""],
      ["largest share error", (r) => r.maxShareError ?? ""],
      ["s until b's share is used", (r) => r.idleReuseSeconds ?? ""]
    ]),
    "token-limits": table(scenario("token-limits"), tokenColumns),
    "token-limits-openai": table(scenario("token-limits-openai"), tokenColumns),
    processes: table(fleet.filter((r) => /^processes-\d+-shared$/.test(String(r.scenario))), [
      ["processes on one store", (r) => r.processes],
      ["makespan / floor", (r) => r.makespanOverFloor],
      ["calls per client", (r) => r.callsPerClient],
      ["succeeded", percent(2)],
      ["429s / calls", (r) => r.fraction429],
      ["p99 s", (r) => r.p99Seconds]
    ]),
    "store-latency": table(fleet.filter((r) => String(r.scenario).includes("-store-")), [
      ["scenario", (r) => String(r.scenario).replace(/-store-\d+ms$/, "")],
      ["store round trip", (r) => String(r.scenario).replace(/^.*-store-/, "")],
      ["processes", (r) => r.processes],
      ["makespan / floor", (r) => r.makespanOverFloor],
      ["calls per client", (r) => r.callsPerClient],
      ["succeeded", percent(2)],
      ["429s / calls", (r) => r.fraction429]
    ]),
    limiter: table(overhead.filter(limiter), [
      ["request rate", (r) => r.variant],
      ["µs per call", (r) => ((r["ns/call"] as number) / 1000).toFixed(1)],
      ["× the cost at 10/s", (r) => r["x baseline"]]
    ]),
    overhead: table(overhead.filter((r) => !limiter(r)), [
      ["group", (r) => r.group],
      ["variant", (r) => r.variant],
      ["ns/call", (r) => (r["ns/call"] as number).toLocaleString("en-US")],
      ["× baseline", (r) => r["x baseline"]]
    ]),
    lines: table(results("lines"), [
      ["group", (r) => r.group],
      ["variant", (r) => r.variant],
      ["µs per call", (r) => r["us/call"]],
      ["added µs per call", (r) => r["added us/call"]],
      ["× bare", (r) => r["x bare"]]
    ]),
    loopback: table(results("loopback"), [
      ["strategy", (r) => r.strategy],
      ["run", (r) => r.run],
      ["makespan / floor", (r) => r.makespanOverFloor],
      ["calls per client", (r) => r.callsPerClient],
      ["succeeded", percent(1)],
      ["p99 s", (r) => r.p99Seconds]
    ]),
    redis: table(results("redis"), [
      ["callers", (r) => r.callers],
      ["calls", (r) => r.calls],
      ["Redis round trips a call", (r) => r.roundTripsPerCall],
      ["Redis CPU µs a call", (r) => r.redisUsPerCall],
      ["calls/s", (r) => r.callsPerSecond]
    ]),
    "real-processes": table(results("processes"), [
      ["set-up", (r) => r.setup],
      ["calls done", (r) => `${r.done} of ${r.calls}`],
      ["requests", (r) => r.requests],
      ["429s / requests", (r) => r.fraction429],
      ["makespan / floor", (r) => r.makespanOverFloor],
      ["store fall-backs", (r) => r.storeFallbacks],
      ["load average", (r) => r.loadAverage]
    ]),
    memory: table(results("memory"), [
      ["variant", (r) => r.variant],
      ["bytes per waiting call", (r) => (r["bytes per waiting call"] as number).toLocaleString("en-US")]
    ]),
    sse: table(results("sse"), [
      ["provider", (r) => r.provider],
      ["reads", (r) => r.reads],
      ["this library, MB/s", (r) => r["this library MB/s"]],
      ["official SDK, MB/s", (r) => r["official SDK MB/s"]],
      ["SDK", (r) => r.sdk]
    ]),
    size: table(results("size"), [
      ["entry", (r) => r.entry],
      ["import ms", (r) => r.importMs],
      ["bundle KB (min)", (r) => r.bundleKB],
      ["modules bundled", (r) => r.bundledModules],
      ["fast-check modules", (r) => r.fastCheckModules]
    ])
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const [name, text] of Object.entries(tables())) console.log(`## ${name}\n${text}\n`)
}
