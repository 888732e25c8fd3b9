import { describe, expect, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"
import { promisify } from "node:util"
import { waitOverHint } from "./core/support/retryLine.js"

const run = promisify(execFile)
const root = new URL("..", import.meta.url)
const read = (path: string) => readFileSync(new URL(path, root), "utf8")
const pages = () => ["README.md", ...readdirSync(new URL("docs/", root)).map((name) => `docs/${name}`)]

// Each example runs as a user would run it, on its own loopback server where it needs one.
const examples = [
  ["examples/quickstart.ts", "\"Hi\" after 2 calls (1 before 2 s)"],
  ["examples/anthropic.ts", "Hi! (2 requests)"],
  ["examples/openai.ts", "Hello from Azure"],
  ["examples/bedrock.ts", "Hi from Bedrock after 2 calls"],
  ["examples/budget.ts", "with the retry budget: 320 calls for 200 requests"],
  ["examples/limiter.ts", "with the adaptive limiter: 300 done"],
  ["examples/priority.ts", "each of 5 interactive calls answered in under a second"],
  ["examples/deadline.ts", "with 2 seconds: DeadlineError at once, not sent: an estimated"],
  ["examples/tenants.ts", "acme got twice globex's share"],
  ["examples/breaker.ts", "answered after"],
  ["examples/fleet.ts", "limiter: cubic at"],
  ["examples/resilient-http.ts", "stock {\"items\":3} after 2 requests; limiter: cubic"],
  ["examples/generic.ts", "stock {\"items\":3} after 2 requests; connection 3 after 3 tries"],
  ["examples/promise.ts", "ok after 3 calls; widgets: 3 left"],
  ["examples/opentelemetry.ts", "chatStream.attempt"],
  ["examples/policy.ts", "maxAttempt: unknown option; did you mean maxAttempts?"],
  ["examples/errors.ts", "done after 3 calls"],
  ["examples/tools.ts", "9 requests; the tool's result went back as [{\"type\":\"tool_result\""],
  ["examples/effect-ai.ts", "Hi!\n(3 requests)"],
  ["examples/effect-ai-testing.ts", "Hello after 3 calls, at 0, 2000, 3000 ms"],
  ["examples/fallback.ts", "Hello from OpenAI (after 3 Anthropic requests, then 1 to OpenAI)"],
  ["examples/live.ts", "at a share of first attempts.\n[stop, 2 tokens]\n(loopback server: 2 requests)"]
] as const

describe("examples", () => {
  // Concurrent, three at a time (the shared project's maxConcurrency): most of an example's time is a real wait on
  // its loopback server or a retry's backoff, which the others fill. Their output does not depend on how fast they
  // run.
  it.concurrent.each(examples)("%s runs and prints what the README says", async (path, expected) => {
    const { stdout } = await run(process.execPath, ["--import", "tsx", path], { cwd: root, timeout: 120_000 })
    expect(stdout).toContain(expected)
  }, 120_000)

  it("examples/live.ts: a run that cannot start exits 1 with one line that says why", async () => {
    const failed = await run(process.execPath, ["--import", "tsx", "examples/live.ts"], {
      cwd: root,
      timeout: 60_000,
      env: { ...process.env, ANTHROPIC_API_KEY: "sk-ant", ANTHROPIC_BASE_URL: "nope" }
    }).then(() => undefined, (error: { code: number; stderr: string }) => error)
    expect(failed?.code).toBe(1)
    expect(failed?.stderr.trim()).toBe(
      "failed: Error: (Invalid data at baseUrl: \"Anthropic: the base URL must be an absolute http(s) URL, got \"nope\"\")"
    )
  }, 60_000)

  it.each(examples)("the README or a docs page shows %s exactly as it runs", (path) => {
    expect(pages().some((page) => read(page).includes("```ts\n" + read(path) + "```"))).toBe(true)
  })

  it.each([[], ["--effect-ai"]])(
    "the demo %j runs against its loopback server: a 429 and a 529 retried, then the answer",
    async (...flags) => {
      const { stderr, stdout } = await run(process.execPath, ["--import", "tsx", "examples/demo.ts", ...flags], {
        cwd: root,
        timeout: 60_000
      })
      const output = stdout + stderr
      expect(output).toMatch(
        new RegExp(`attempt 1 of 4 failed with RateLimitError \\(status 429\\): .*; ${waitOverHint(1000)}`)
      )
      expect(output).toContain("attempt 2 of 4 failed with OverloadedError (status 529)")
      expect(output).toContain("never replay a stream.")
      expect(output).toContain("[finished: stop;")
    },
    60_000
  )
})
