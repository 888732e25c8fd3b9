/**
 * The Effect 4 line's fleet bench (`effect4/bench/fleet.ts`), run in a process of its own: on effect4/dist and
 * Effect 4, as that line's users run it.
 */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

export const run = () =>
  new Promise<void>((resolve, reject) => {
    const path = (file: string) => fileURLToPath(new URL(file, import.meta.url))
    // the scenarios' driver is linked into effect4/bench/support: read through the link, its imports find Effect 4
    const child = spawn(process.execPath, [
      "--preserve-symlinks",
      "--import",
      "tsx",
      path("../effect4/bench/runFleet.ts")
    ], {
      cwd: path("../effect4/"),
      env: { ...process.env, TSX_TSCONFIG_PATH: path("../effect4/bench/tsconfig.json") },
      stdio: "inherit"
    })
    child.on("exit", (code) => code === 0 ? resolve() : reject(new Error(`fleet4 exited with ${code}`)))
  })
