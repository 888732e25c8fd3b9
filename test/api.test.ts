import { describe, expect, it } from "@effect/vitest"
import { readFileSync } from "node:fs"

const root = new URL("..", import.meta.url)
const read = (path: string) => readFileSync(new URL(path, root), "utf8")
const pkg = JSON.parse(read("package.json")) as { readonly exports: Record<string, unknown> }

// docs/api.md's table: each row's first cell (a module, or an entry such as `effect-retry-layer/anthropic`) and
// the rest of the row.
const rows = new Map(
  [...read("docs/api.md").matchAll(/^\| `([^`]+)` \| (.*) \|$/gm)].map(([, key, rest]) => [key!, rest!] as const)
)

// Every entry's runtime exports: the main entry's modules each have a row of their own, another entry's modules
// share the entry's row.
const entries = Object.keys(pkg.exports).map((path) =>
  path === "." ? "effect-retry-layer" : `effect-retry-layer/${path.slice(2)}`
)

describe("docs/api.md", () => {
  it.each(entries)("lists every module %s exports, and every value each module exports", async (entry) => {
    const modules = await import(/* @vite-ignore */ entry) as Record<string, Record<string, unknown>>
    const missing = Object.entries(modules).flatMap(([name, module]) => {
      const row = rows.get(entry === "effect-retry-layer" ? name : entry)
      if (row === undefined || (entry !== "effect-retry-layer" && !row.includes(`\`${name}\``))) return [name]
      return Object.keys(module).filter((member) => !new RegExp(`\\b${member}\\b`).test(row)).map((member) =>
        `${name}.${member}`
      )
    })
    expect(missing, `${entry}: not in docs/api.md`).toEqual([])
  })
})
