import { mkdirSync, writeFileSync } from "node:fs"
import * as os from "node:os"

/** The machine a result came from, recorded next to every figure. */
export const machine = () => ({
  cpu: os.cpus()[0]?.model ?? "unknown",
  cores: os.cpus().length,
  memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  node: process.version,
  platform: `${os.platform()} ${os.arch()}`
})

/** Prints a table and writes it, with the machine, to `bench/results/<name>.json`. */
export const report = (name: string, title: string, rows: ReadonlyArray<Record<string, unknown>>) => {
  console.log(`\n${title}`)
  console.table(rows)
  const dir = new URL("../results/", import.meta.url)
  mkdirSync(dir, { recursive: true })
  writeFileSync(
    new URL(`${name}.json`, dir),
    JSON.stringify({ title, machine: machine(), date: new Date().toISOString(), rows }, null, 2) + "\n"
  )
}

/** The middle of a few timings: the median of an odd count, the upper middle of an even one. */
export const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
