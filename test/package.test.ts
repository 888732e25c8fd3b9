import { describe, expect, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { promisify } from "node:util"
import semver from "semver"

const root = new URL("..", import.meta.url)
const read = (path: string) => readFileSync(new URL(path, root), "utf8")
const pkg = JSON.parse(read("package.json")) as {
  readonly exports: Record<string, Record<string, string>>
  readonly peerDependencies: Record<string, string>
  readonly devDependencies: Record<string, string>
}

// Every `npm install` line in the README's Install section, as [package, range] pairs.
const installLines = () => {
  const readme = read("README.md")
  const section = readme.slice(readme.indexOf("## Install"), readme.indexOf("\n## ", readme.indexOf("## Install") + 1))
  return [...section.matchAll(/^npm install (.+)$/gm)].flatMap((line) =>
    line[1]!.split(/\s+/).filter((word) => !word.startsWith("-")).map((word) => {
      const at = word.lastIndexOf("@")
      return at > 0 ? [word.slice(0, at), word.slice(at + 1)] as const : [word, undefined] as const
    })
  )
}

describe("install lines", () => {
  const lines = installLines()

  it("pin every dependency to a range, so npm does not pick effect 4 (npm's latest)", () => {
    expect(lines.length).toBeGreaterThan(3)
    for (const [name, range] of lines) {
      if (name === "effect-retry-layer") continue
      expect(range, name).toBeDefined()
      expect(semver.validRange(range!), `${name}@${range}`).not.toBeNull()
    }
    expect(semver.intersects(lines.find(([name]) => name === "effect")![1]!, ">=4.0.0-0")).toBe(false)
  })

  it("ask for versions inside the peer ranges, and for the versions the tests run against", () => {
    for (const [name, range] of lines) {
      if (name === "effect-retry-layer") continue
      const peer = pkg.peerDependencies[name]
      if (peer !== undefined) expect(semver.subset(range!, peer), `${name}@${range} within ${peer}`).toBe(true)
      const tested = pkg.devDependencies[name]
      expect(tested, `${name} is tested`).toBeDefined()
      expect(semver.satisfies(tested!, range!), `${name}: tested ${tested} in ${range}`).toBe(true)
    }
  })

  it("list every required peer", () => {
    const listed = new Set(lines.map(([name]) => name))
    for (const peer of ["effect", "@effect/platform", "@effect/experimental"]) expect(listed.has(peer), peer).toBe(true)
  })
})

// The modules an entry loads, following the relative imports of src/ (type-only imports are erased).
const graph = (entry: string) => {
  const seen = new Set<string>()
  const external = new Set<string>()
  const visit = (path: string) => {
    if (seen.has(path)) return
    seen.add(path)
    const source = read(path)
    for (const match of source.matchAll(/^(?:import|export)(?! type)[^"]*?from "([^"]+)"/gm)) {
      const specifier = match[1]!
      if (specifier.startsWith(".")) {
        visit(new URL(specifier.replace(/\.js$/, ".ts"), new URL(path, root)).pathname.slice(root.pathname.length))
      } else external.add(specifier)
    }
  }
  visit(entry)
  return { modules: seen, external }
}

describe("entries load only what they use", () => {
  it("effect-retry-layer/testing needs no Node built-in (FaultServer is in ./testing/server)", () => {
    const { external } = graph("src/testing.ts")
    expect([...external].filter((s) => s.startsWith("node:") || s.startsWith("@effect/platform-node"))).toEqual([])
    expect([...graph("src/testing/server.ts").external]).toContain("node:http")
  })

  it("only effect-retry-layer/ai and /testing/ai load @effect/ai (an optional peer)", () => {
    for (const entry of ["src/index.ts", "src/testing.ts", "src/http.ts", "src/anthropic.ts", "src/promise.ts"]) {
      expect([...graph(entry).external].filter((s) => s.startsWith("@effect/ai")), entry).toEqual([])
    }
    expect([...graph("src/testing/ai.ts").external]).toContain("@effect/ai/LanguageModel")
  })

  it("only effect-retry-layer/bedrock loads the AWS libraries, and the main entry no HTTP client", () => {
    for (const entry of ["src/index.ts", "src/anthropic.ts", "src/openai.ts", "src/http.ts", "src/testing.ts"]) {
      expect([...graph(entry).external].filter((s) => s.startsWith("@smithy/") || s.startsWith("@aws-crypto/")), entry)
        .toEqual([])
    }
    expect([...graph("src/bedrock.ts").external]).toContain("@smithy/eventstream-codec")
    expect(
      [...graph("src/index.ts").external].filter((s) => s.startsWith("@effect/platform") || s.startsWith("@effect/ai"))
    )
      .toEqual([])
    expect([...graph("src/ai.ts").external]).toContain("@effect/ai/LanguageModel")
  })

  it("effect-retry-layer/promise does not load effect/Schema (and with it fast-check)", () => {
    const { external } = graph("src/promise.ts")
    expect(external.has("effect/Schema")).toBe(false)
    expect([...external].every((s) => s.startsWith("effect/"))).toBe(true)
  })

  it("every export has types, import and a default condition", () => {
    for (const [path, conditions] of Object.entries(pkg.exports)) {
      expect(Object.keys(conditions), path).toEqual(["types", "import", "default"])
      const source = conditions.import!.replace("./dist/", "src/").replace(/\.js$/, ".ts")
      expect(existsSync(new URL(source, root)), source).toBe(true)
    }
  })
})

describe("published types", () => {
  it("the declarations tsc emits (internals stripped) compile on their own", async () => {
    // Inside the project, so the declarations resolve effect and the rest as an installed package would.
    const cache = new URL("node_modules/.cache/", root).pathname
    mkdirSync(cache, { recursive: true })
    const out = mkdtempSync(join(cache, "erl-dts-"))
    try {
      const tsc = new URL("node_modules/typescript/bin/tsc", root).pathname
      await promisify(execFile)(process.execPath, [
        tsc,
        "-p",
        "tsconfig.build.json",
        "--outDir",
        out,
        "--emitDeclarationOnly",
        "--declarationMap",
        "false"
      ], { cwd: root.pathname })
      writeFileSync(
        join(out, "tsconfig.json"),
        JSON.stringify({
          compilerOptions: {
            module: "NodeNext",
            moduleResolution: "NodeNext",
            strict: true,
            exactOptionalPropertyTypes: true,
            noEmit: true,
            types: [],
            skipLibCheck: false
          },
          include: ["**/*.d.ts"]
        })
      )
      const { stdout } = await promisify(execFile)(process.execPath, [tsc, "-p", join(out, "tsconfig.json")], {
        cwd: root.pathname
      }).catch((error: { stdout: string }) => ({ stdout: error.stdout }))
      expect(stdout).toBe("")
      expect(readFileSync(join(out, "AdaptiveRateLimiter.d.ts"), "utf8")).not.toContain("@internal")
    } finally {
      rmSync(out, { recursive: true, force: true })
    }
  }, 120_000)
})
