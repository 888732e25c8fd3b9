/**
 * `npm run bench -- fleet4` runs this in a process of the Effect 4 line's own (`bench/fleet4.ts`): the Effect 4
 * fleet bench, its rows printed and written to `bench/results/fleet-effect4.json`.
 */
import { report } from "../../bench/support/report.js"
import * as Fleet from "./fleet.js"

report(
  "fleet-effect4",
  "Fleet goodput in virtual time on the Effect 4 line (the Effect 3 line's scenarios, the server over effect/http): " +
    "this line's provider with its defaults, and Effect 4's own client pieces",
  Fleet.run()
)
