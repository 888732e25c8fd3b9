/**
 * The fleet processes' start protocol (both lines' `fleetProcess.ts`, run by `bench/processes.ts`): say `ready`,
 * then wait for `go` on stdin, so that every process starts its calls at once. Plain TypeScript, no Effect.
 */
import { createInterface } from "node:readline"

/** Prints `ready` and resolves when `go` arrives on stdin. */
export const readyThenGo = (): Promise<void> => {
  console.log("ready")
  return new Promise<void>((resolve) => {
    const lines = createInterface({ input: process.stdin })
    lines.on("line", (line) => {
      if (line.trim() === "go") {
        lines.close()
        process.stdin.destroy()
        resolve()
      }
    })
  })
}
