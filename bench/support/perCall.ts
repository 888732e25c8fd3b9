/**
 * Per-call cost: each task runs a batch of `perSample` calls (so the figure is the call's cost, not a runtime's
 * start), timed by tinybench. Free of Effect, so that both Effect lines' benchmarks time the same way.
 */
import { Bench } from "tinybench"

export interface Row {
  readonly group: string
  readonly variant: string
  readonly baseline: string
  readonly nsPerCall: number
}

export const measure = async (
  group: string,
  baseline: string,
  tasks: Record<string, () => unknown>,
  perSample: number,
  time = 2_000
): Promise<Array<Row>> => {
  const bench = new Bench({ time, warmup: true })
  for (const [name, task] of Object.entries(tasks)) bench.add(name, task)
  await bench.run()
  return Object.keys(tasks).map((variant) => {
    const result = bench.getTask(variant)?.result
    if (result?.state !== "completed") throw new Error(`benchmark ${variant} did not complete`)
    return { group, variant, baseline, nsPerCall: (result.latency.mean * 1e6) / perSample }
  })
}
