import { describe, expect, it } from "@effect/vitest"
import * as ScriptPipe from "../../../src/core/internal/scriptPipe.js"

/** A pipe over a fake Redis that records each script's steps and answers each step with its key. */
const recording = (options: { readonly fail?: boolean; readonly group?: (key: string) => string } = {}) => {
  const scripts: Array<ReadonlyArray<string>> = []
  const told: Array<readonly [string, ScriptPipe.Outcome]> = []
  const pipe = ScriptPipe.make({
    send: (steps, isTold) => {
      scripts.push(steps.map((s, i) => `${s.op}:${s.key}${isTold[i] ? " (told)" : ""}`))
      return options.fail === true
        ? Promise.reject(new Error("connection lost"))
        : Promise.resolve(steps.map((s) => ["", s.key] as const))
    },
    group: options.group ?? (() => ""),
    told: (step, outcome) => told.push([step.key, outcome])
  })
  return { pipe, scripts, told }
}

const step = (op: string, key: string): ScriptPipe.Step => ({ op, key, now: 0, args: "{}" })
const turn = () => new Promise((resolve) => setImmediate(resolve))

describe("scriptPipe", () => {
  it("an ask goes at once, in one script with the steps told before it, in order", async () => {
    const { pipe, scripts } = recording()
    pipe.tell(step("settle", "q"))
    pipe.tell(step("delivered", "l"))
    expect(scripts).toEqual([]) // told steps wait
    const answers = Promise.all([pipe.ask(step("reserve", "q")), pipe.ask(step("take", "l"))])
    expect(scripts).toEqual([["settle:q (told)", "delivered:l (told)", "reserve:q"], ["take:l"]])
    expect(await answers).toEqual([["", "q"], ["", "l"]])
  })

  it("a told step with no ask after it goes at the end of the event loop's turn", async () => {
    const { pipe, scripts, told } = recording()
    expect(pipe.tell(step("observe", "q"))).toBeUndefined()
    await Promise.resolve()
    expect(scripts).toEqual([]) // not in a microtask: an ask that follows carries it
    await turn()
    expect(scripts).toEqual([["observe:q (told)"]])
    await turn()
    expect(told).toEqual([["q", ["", "q"]]])
  })

  it("each group goes as its own scripts (a Cluster's keys), at most maxSteps steps a script", async () => {
    const { pipe, scripts } = recording({ group: (key) => key })
    for (let i = 0; i < ScriptPipe.maxSteps + 1; i++) pipe.tell(step("delivered", "a"))
    pipe.tell(step("settle", "b"))
    await pipe.ask(step("reserve", "b"))
    expect(scripts.map((s) => s.length)).toEqual([ScriptPipe.maxSteps, 1, 2])
    expect(scripts[2]).toEqual(["settle:b (told)", "reserve:b"])
  })

  it("told steps are bounded: past maxTold waiting, a told step goes at once and its caller waits for it", async () => {
    const { pipe, scripts } = recording()
    for (let i = 0; i < ScriptPipe.maxTold; i++) expect(pipe.tell(step("delivered", "l"))).toBeUndefined()
    const waited = pipe.tell(step("delivered", "l"))
    expect(waited).toBeInstanceOf(Promise)
    await waited
    expect(scripts.flat()).toHaveLength(ScriptPipe.maxTold + 1)
    expect(Math.max(...scripts.map((s) => s.length))).toBeLessThanOrEqual(ScriptPipe.maxSteps)
  })

  it("a script that fails rejects its asks and reports its told steps as errors", async () => {
    const { pipe, told } = recording({ fail: true })
    pipe.tell(step("settle", "q"))
    await expect(pipe.ask(step("reserve", "q"))).rejects.toThrow("connection lost")
    expect(told).toEqual([["q", ["error", "connection lost"]]])
  })
})
