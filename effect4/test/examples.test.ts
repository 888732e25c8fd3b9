import { describe, expect, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { waitOverHint } from "./core/support/retryLine.js"

const line = fileURLToPath(new URL("..", import.meta.url))
const tsx = fileURLToPath(new URL("../../node_modules/tsx/dist/cli.mjs", import.meta.url))

// Examples run from source: the shared core is a link, read through it (as the build does) so that its imports
// find this line's Effect.
const run = (file: string, env: Record<string, string | undefined> = {}) =>
  promisify(execFile)(process.execPath, [tsx, file], {
    cwd: line,
    // Not this suite's NODE_OPTIONS (its Node 20 shim is a path relative to this line's directory).
    env: { ...process.env, NODE_OPTIONS: "--preserve-symlinks", ...env }
  })

describe("examples", () => {
  it("examples/providers.ts: an agent loop with a tool over each provider, each one's 429 retried", async () => {
    const { stdout } = await run("examples/providers.ts")
    // the retries' and the limiter's log lines aside
    const answers = stdout.trim().split("\n").filter((line) => !/^\[[\d:.]+\] (WARN|INFO)/.test(line))
    expect(answers).toEqual(
      ["anthropic", "openai", "bedrock"].map((name) =>
        `${name}: It is sunny in Paris, 21 C. (3 requests: the 429 retried, then the tool call, then the answer)`
      )
    )
    expect(stdout).toMatch(/bedrock\/anthropic\.claude-demo: attempt 1 of 3 failed with RateLimitError \(status 429/)
    // the fleet stack is on by default: each provider's limiter slowed down for its 429
    expect(stdout.match(/adaptive rate limiter [a-z]+\/[a-z.-]+: throttled; pacing at 1\.0 requests\/s/g)).toHaveLength(
      3
    )
  }, 60_000)

  it("examples/demo.ts (npm run demo): a 429 and a 529 retried, then the answer streamed", async () => {
    const { stdout } = await run("examples/demo.ts")
    expect(stdout).toMatch(
      new RegExp(`attempt 1 of 4 failed with RateLimitError \\(status 429\\): .*; ${waitOverHint(1000)}`)
    )
    expect(stdout).toMatch(/attempt 2 of 4 failed with OverloadedError \(status 529\)/)
    expect(stdout).toContain(
      "Retries that honour Retry-After, skip what must not be retried, and never replay a stream."
    )
    expect(stdout).toContain("[finished: stop; 10 input, 15 output tokens]")
  }, 60_000)

  it("examples/agent.ts: an agent loop with a tool, its model's 429 retried once, the tool run once", async () => {
    const { stdout } = await run("examples/agent.ts")
    const lines = stdout.trim().split("\n")
    expect(lines).toHaveLength(2)
    expect(lines[0]).toMatch(
      new RegExp(
        `languageModel: attempt 1 of 3 failed with RateLimitError \\(status 429\\): .*; ${waitOverHint(200, "2\\d\\d")}`
      )
    )
    expect(lines[1]).toBe(
      "It is sunny in Paris, 21 C. (3 requests: the 429 retried after its 200 ms hint; the tool ran 1 time)"
    )
  }, 60_000)

  it(
    "examples/anthropic.ts (the README's): without a key, the production wiring against the loopback server",
    async () => {
      const { stdout } = await run("examples/anthropic.ts", { ANTHROPIC_API_KEY: "" })
      expect(stdout).toMatch(/attempt 1 of 3 failed with RateLimitError \(status 429\): .*; retrying in \d+ ms/)
      expect(stdout.trim().split("\n").slice(-2)).toEqual([
        "A retry budget caps retries at a share of first attempts.",
        "(loopback server: 2 requests)"
      ])
    },
    60_000
  )

  it("examples/anthropic.ts: a run that cannot start exits 1 with one line that says why", async () => {
    const failed = await run("examples/anthropic.ts", { ANTHROPIC_API_KEY: "sk-ant", ANTHROPIC_BASE_URL: "not a url" })
      .then(() => undefined, (error: { code: number; stderr: string }) => error)
    expect(failed?.code).toBe(1)
    expect(failed?.stderr.trim()).toBe(
      "failed: InvalidOptions: Anthropic: the base URL must be an absolute http(s) URL, got \"not a url\""
    )
  }, 60_000)
})
