/**
 * `npm run bench`: every benchmark in turn, on the compiled package; tables on
 * the terminal, JSON (and the fleet chart) in bench/results/.
 */
import * as Fleet from "./fleet.js"
import * as Loopback from "./loopback.js"
import * as Overhead from "./overhead.js"
import * as Scale from "./scale.js"

const started = performance.now()
await Overhead.run()
Fleet.run()
await Loopback.run()
await Scale.run()
console.log(`\nnpm run bench: ${((performance.now() - started) / 60_000).toFixed(1)} minutes`)
