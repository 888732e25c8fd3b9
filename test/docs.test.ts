import { describe, expect, it } from "@effect/vitest"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { tables } from "../bench/tables.js"

const root = new URL("..", import.meta.url)
const read = (path: string) => readFileSync(new URL(path, root), "utf8")
const pages = ["README.md", ...readdirSync(new URL("docs/", root)).map((name) => `docs/${name}`)]
const examples = ["examples/", "effect4/examples/"].flatMap((dir) =>
  readdirSync(new URL(dir, root)).map((name) => read(`${dir}${name}`))
)

describe("README and docs", () => {
  it("the README stays a newcomer's page: at most 250 lines", () => {
    expect(read("README.md").split("\n").length).toBeLessThanOrEqual(250)
  })

  it.each(pages)("every TypeScript block in %s is a whole example file, run by the tests", (page) => {
    for (const [, code] of read(page).matchAll(/```ts\n([\s\S]*?)```/g)) {
      expect(examples, code!.split("\n")[0]).toContain(code)
    }
  })

  it.each(pages)("every relative link in %s leads to a file", (page) => {
    for (const [, target] of read(page).matchAll(/\]\(((?!https?:|#)[^)#\s]+)(?:#[^)]*)?\)/g)) {
      expect(existsSync(new URL(target!, new URL(page, root))), `${page} -> ${target}`).toBe(true)
    }
  })

  it.each(Object.entries(tables()))("the %s table is the one bench/results holds", (_, table) => {
    expect(pages.some((page) => read(page).includes(table))).toBe(true)
  })
})
