import { describe, expect, it } from "@effect/vitest"
import { readdirSync, readFileSync } from "node:fs"
import { join, relative } from "node:path"
import { fileURLToPath } from "node:url"
import semver from "semver"
import ts from "typescript"
import { compile } from "./core/support/wiring.js"

const root = fileURLToPath(new URL("..", import.meta.url))
const version = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }).version

/** Every `@example` of the public API: the module it documents, and its code. */
const examples = (): ReadonlyArray<{ readonly name: string; readonly code: string }> => {
  const files = readdirSync(join(root, "src"), { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".ts") && !file.split("/").includes("internal"))
  return files.flatMap((file) => {
    const text = readFileSync(join(root, "src", file), "utf8")
    const codes = [...text.matchAll(/\/\*\*[\s\S]*?\*\//g)].flatMap((comment) => {
      const body = comment[0].split("\n").map((line) => line.replace(/^\s*\*( |$)/, "")).join("\n")
      return [...body.matchAll(/@example\s*```ts\n([\s\S]*?)```/g)].map((example) => example[1]!)
    })
    return codes.map((code, i) => ({ name: `${file.replace(/\.ts$/, "")} example ${i + 1}`, code }))
  })
}

// What the public API is sorted by (Effect's own categories, and this library's: costs, classification, reporting,
// fixtures for the testing entries).
const categories = new Set([
  "models",
  "constructors",
  "combinators",
  "layers",
  "tags",
  "errors",
  "guards",
  "getters",
  "symbols",
  "options",
  "schedules",
  "classification",
  "parsing",
  "reporting",
  "costs",
  "metrics",
  "constants",
  "utils",
  "fixtures"
])

/** Every exported declaration of the public modules (namespace members included), with its JSDoc tags. */
const exported = () =>
  readdirSync(join(root, "src"), { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".ts") && !file.split("/").includes("internal"))
    .flatMap((file) => {
      const source = ts.createSourceFile(
        file,
        readFileSync(join(root, "src", file), "utf8"),
        ts.ScriptTarget.Latest,
        true
      )
      const visit = (node: ts.Node, prefix: string): Array<{ readonly name: string; readonly tags: Array<string> }> => {
        const modifiers = ts.canHaveModifiers(node) ? ts.getModifiers(node) : undefined
        if (modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword) !== true) return []
        const own = ts.isVariableStatement(node)
          ? node.declarationList.declarations.map((d) => d.name.getText(source)).join(", ")
          : (node as { readonly name?: ts.Node }).name?.getText(source) ?? "?"
        const tags = ts.getJSDocCommentsAndTags(node).filter(ts.isJSDoc).flatMap((doc) =>
          (doc.tags ?? []).map((tag) => `${tag.tagName.text} ${String(tag.comment ?? "")}`.trim())
        )
        const inner = ts.isModuleDeclaration(node) && node.body !== undefined && ts.isModuleBlock(node.body)
          ? node.body.statements.flatMap((statement) => visit(statement, `${prefix}${own}.`))
          : []
        return [{ name: `${file}: ${prefix}${own}`, tags }, ...inner]
      }
      return source.statements.flatMap((statement) => visit(statement, ""))
    })

describe("the public API's conventions", () => {
  it("every export of a public module says since when, and its category; nothing internal is exported there", () => {
    const found = exported()
    expect(found.length).toBeGreaterThan(250)
    const problems = found.flatMap(({ name, tags }) => {
      if (tags.includes("internal")) return [`${name}: internal, exported from a public module`]
      const since = tags.find((t) => t.startsWith("since "))
      const category = tags.find((t) => t.startsWith("category "))?.slice("category ".length)
      return [
        ...(since === undefined || !/^since \d+\.\d+\.\d+$/.test(since) ? [`${name}: no @since x.y.z`] : []),
        // one version number: nothing is newer than the package that ships it
        ...(since !== undefined && semver.valid(since.slice(6)) && semver.gt(since.slice(6), version)
          ? [`${name}: @${since}, after the package's ${version}`]
          : []),
        ...(category === undefined || !categories.has(category) ? [`${name}: @category ${category ?? "missing"}`] : [])
      ]
    })
    expect(problems).toEqual([])
  })
})

describe("JSDoc examples", () => {
  it("every @example of the public API compiles against the sources", async () => {
    const found = examples()
    // the modules with examples today: a test that found none would check nothing
    expect(found.length).toBeGreaterThan(20)
    const virtual = new Map(found.map(({ code, name }) => [
      join(root, "examples", `__jsdoc_${name.replace(/[^A-Za-z0-9]/g, "_")}.ts`),
      // a module of its own: its top-level names do not clash with another example's
      `${code}\nexport {}\n`
    ]))
    const problems = (await compile(root, virtual)).map(({ file, line, message }) =>
      `${found[[...virtual.keys()].indexOf(file)]!.name}:${line + 1}: ${message}`
    )
    expect(problems, relative(root, "src")).toEqual([])
  }, 120_000)
})
