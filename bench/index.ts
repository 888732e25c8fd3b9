/**
 * `npm run bench`: every benchmark in turn, on the compiled package; tables on
 * the terminal, JSON (and the fleet chart) in bench/results/.
 * `npm run bench -- fleet overhead` runs only those.
 */
import * as Fleet from "./fleet.js"
import * as Fleet4 from "./fleet4.js"
import * as Lines from "./lines.js"
import * as Loopback from "./loopback.js"
import * as Memory from "./memory.js"
import * as Overhead from "./overhead.js"
import * as Processes from "./processes.js"
import * as Redis from "./redis.js"
import * as Scale from "./scale.js"
import * as Size from "./size.js"
import * as Sse from "./sse.js"

const all = {
  overhead: Overhead.run,
  fleet: Fleet.run,
  fleet4: Fleet4.run,
  lines: Lines.run,
  loopback: Loopback.run,
  memory: Memory.run,
  processes: Processes.run,
  redis: Redis.run,
  scale: Scale.run,
  size: Size.run,
  sse: Sse.run
} as const
const asked = process.argv.slice(2)
const unknown = asked.filter((name) => !(name in all))
if (unknown.length > 0) {
  throw new Error(`unknown benchmark ${unknown.join(", ")}; known: ${Object.keys(all).join(", ")}`)
}

const started = performance.now()
for (const [name, run] of Object.entries(all)) {
  if (asked.length === 0 || asked.includes(name)) await run()
}
console.log(`\nnpm run bench: ${((performance.now() - started) / 60_000).toFixed(1)} minutes`)
