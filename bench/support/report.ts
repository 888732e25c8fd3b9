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
