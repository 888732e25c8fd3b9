// The fleet bench's charts, shown in docs/performance.md: the headline's clients done over time
// (bench/results/fleet.svg), and latency per class over time in the scenarios of priorities, deadlines, tenants
// and a batch at once (fleet-<scenario>.svg), each strategy a line.
import { completionChart, type Line, lineChart } from "./chart.js"
import type { Outcome } from "./fleetScenarios.js"

export const fleetCharts = (outcomes: ReadonlyArray<Outcome>) => {
  const of = (scenario: string, processes = 1) =>
    outcomes.filter((o) => o.scenario === scenario && o.processes === processes)
  const file = (scenario: string) => new URL(`../results/fleet-${scenario}.svg`, import.meta.url)

  completionChart(
    new URL("../results/fleet.svg", import.meta.url),
    "Clients done over time: 10,000 clients, capacity 100/s, 429 with Retry-After: 1",
    10_000,
    of("headline").map((o) => ({ name: o.strategy, completions: o.completions }))
  )

  const mixed = [["mixed-priority", "no headers"], ["mixed-priority-headers", "limits in headers"]] as const
  for (const [scenario, told] of mixed) {
    // each interactive call's latency at the time it asked, the batch of 10,000 running
    const lines = of(scenario).map((o): Line => ({
      name: o.strategy,
      points: [...o.timeline!.interactive!].sort((a, b) => a[0] - b[0]).map(([at, latency]) => [
        at / 1000,
        latency / 1000
      ])
    }))
    // the first 120 s (the stack's batch takes 100; the peers' runs end early or go on for minutes), the axis
    // cut at 2 s (a call's latency is 0.2 s; the peers' reach 17 s)
    lineChart(
      file(scenario),
      `Interactive calls during a 10,000-call batch, 100/s, ${told}: latency by when each asked`,
      { label: "interactive call's latency, s (cut at 2)", max: 2, format: (v) => v.toFixed(1) },
      lines,
      120
    )
  }

  // tenants a, b, c (weights 1, 1, 2): answers per second, the stack (one process) against plain retries
  const tenants = of("tenants").filter((o) => o.strategy === "stack-defaults" || o.strategy === "retry-default")
  const rates = tenants.flatMap((o) =>
    Object.entries(o.timeline!.delivered!).sort().map(([tenant, times]): Line => ({
      name: `${o.strategy}: ${tenant}`,
      points: perSecond(times, 5)
    }))
  )
  lineChart(
    file("tenants"),
    "Tenants a, b, c (weights 1, 1, 2) on 100 requests/s; b stops at 60 s: answers per second, over 5 s",
    { label: "answers per second", max: 100, format: (v) => `${Math.round(v)}` },
    rates
  )

  // deadlines: the calls answered (within 10 s or not), and those the stack refused at once
  const deadlines = of("deadlines")
  completionChart(
    file("deadlines"),
    "10,000 calls at once with a 10 s deadline, 100/s: answered over time (and refused at once, the stack)",
    10_000,
    [
      ...deadlines.map((o) => ({ name: `${o.strategy}: answered`, completions: o.completions })),
      ...deadlines.filter((o) => o.strategy.startsWith("stack")).map((o) => ({
        name: `${o.strategy}: refused at once`,
        completions: o.timeline!.refused!
      }))
    ]
  )

  // the first seconds, where the strategies differ (the slowest peers' tails go on for minutes)
  const firstSeconds = [
    ["interactive-100", 100, 1, "100 calls at once, no failure, limits far above, 500 ms a call: done over time"],
    ["random-503-headers", 10_000, 6, "10,000 calls at once, 30% answered 503, limits in headers: the first 6 s"],
    ["random-503", 10_000, 6, "10,000 calls at once, 30% answered 503, no headers: done in the first 6 s"]
  ] as const
  for (const [scenario, n, until, title] of firstSeconds) {
    const series = of(scenario).map((o) => ({ name: o.strategy, completions: o.completions }))
    completionChart(file(scenario), title, n, series, until)
  }
}

// Answers per second of virtual time, over each `seconds` up to the last answer: [its middle, the rate].
const perSecond = (times: ReadonlyArray<number>, seconds: number): Array<readonly [number, number]> => {
  const counts = new Array<number>(Math.ceil(Math.max(0, ...times) / 1000 / seconds) + 1).fill(0)
  for (const at of times) counts[Math.floor(at / 1000 / seconds)]!++
  return counts.map((count, k) => [(k + 0.5) * seconds, count / seconds] as const)
}
