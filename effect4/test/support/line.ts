/**
 * What a test shared by both Effect lines (`test/core/`, linked here) takes from its line: this is the Effect 4
 * line's. The Effect 3 line's `test/support/line.ts` exports the same names.
 */
export { TestClock } from "effect/testing"
