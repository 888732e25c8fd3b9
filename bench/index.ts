/**
 * `npm run bench`: every benchmark in turn; tables on the terminal, JSON in bench/results/.
 */
import * as Overhead from "./overhead.js"

await Overhead.run()
