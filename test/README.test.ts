import { describe, expect, it } from "@effect/vitest"
import { readFileSync } from "node:fs"

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), "utf8")

describe("README", () => {
  it("gives the two set-up commands that .ci/run and the package scripts rely on", () => {
    const readme = read("README.md")
    expect(readme).toContain("npm ci && npm run demo")
    expect(readme).toContain("npm ci && npm test")
    expect(read(".ci/run")).toContain("npm ci && npm test")
  })
})
