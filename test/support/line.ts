/**
 * What a test shared by both Effect lines (`test/core/`) takes from its line: this is the Effect 3 line's. The
 * Effect 4 line's `test/support/line.ts` exports the same names.
 */
export * as TestClock from "effect/TestClock"
