import { describe, expect, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"

const line = fileURLToPath(new URL("..", import.meta.url))
const tsx = fileURLToPath(new URL("../../node_modules/tsx/dist/cli.mjs", import.meta.url))

describe("examples", () => {
  it("examples/agent.ts: an agent loop with a tool, its model's 429 retried once, the tool run once", async () => {
    // Without this suite's NODE_OPTIONS (its Node 20 shim is a path relative to this line's directory).
    const { stdout } = await promisify(execFile)(process.execPath, [tsx, "examples/agent.ts"], {
      cwd: line,
      env: { ...process.env, NODE_OPTIONS: "" }
    })
    const lines = stdout.trim().split("\n")
    expect(lines).toHaveLength(2)
    expect(lines[0]).toMatch(
      /languageModel: attempt 1 of 3 failed with RateLimitError \(status 429, retry-after 200 ms\): .*; retrying in 2\d\d ms/
    )
    expect(lines[1]).toBe(
      "It is sunny in Paris, 21 C. (3 requests: the 429 retried after its 200 ms hint; the tool ran 1 time)"
    )
  }, 60_000)
})
