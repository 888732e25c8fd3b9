/**
 * What an entry costs before its first call: import time in a fresh Node
 * process (median of 15), modules loaded, and the size of a minified ESM
 * bundle (esbuild, platform neutral, every dependency inlined), with whether
 * fast-check (which `effect/Schema` pulls in) is inside. Next to cockatiel and
 * p-retry, the Promise libraries the bridge is compared with.
 */
import { build } from "esbuild"
import { execFileSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import { median, report } from "./support/report.js"

const root = fileURLToPath(new URL("..", import.meta.url))

const entries = [
  ["effect-retry-layer/promise", "import { retry } from \"effect-retry-layer/promise\"; globalThis.x = retry"],
  ["effect-retry-layer (main)", "import { RetryingModel } from \"effect-retry-layer\"; globalThis.x = RetryingModel"],
  [
    "effect-retry-layer/testing",
    "import { ScriptedModel } from \"effect-retry-layer/testing\"; globalThis.x = ScriptedModel"
  ],
  ["cockatiel", "import { retry } from \"cockatiel\"; globalThis.x = retry"],
  ["p-retry", "import pRetry from \"p-retry\"; globalThis.x = pRetry"]
] as const

const runs = 15

// One fresh process per run: the time from the start of the import to its end, and the modules it loaded.
const importOnce = (source: string) => {
  const script = `
    const t = performance.now()
    await import("data:text/javascript,${encodeURIComponent(source)}")
    const ms = performance.now() - t
    console.log(JSON.stringify({ ms }))`
  const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], { cwd: root, encoding: "utf8" })
  return JSON.parse(out) as { ms: number }
}

// A data: URL cannot resolve a bare specifier, so the import goes through a module in the project.
const importTime = (source: string) => {
  const resolved = source.replace(
    /from "([^"]+)"/,
    (_, specifier: string) => `from ${JSON.stringify(import.meta.resolve(specifier))}`
  )
  return median(Array.from({ length: runs }, () => importOnce(resolved).ms))
}

// A platform-neutral bundle fails on a Node built-in: that is the answer for such an entry, not a crash.
const bundle = async (source: string) => {
  const result = await build({
    stdin: { contents: source, resolveDir: root, loader: "js" },
    bundle: true,
    minify: true,
    format: "esm",
    platform: "neutral",
    mainFields: ["module", "main"],
    write: false,
    metafile: true,
    logLevel: "silent"
  }).catch((error: { errors?: ReadonlyArray<{ text: string }> }) => error.errors?.[0]?.text ?? String(error))
  if (typeof result === "string") return { bytes: NaN, modules: NaN, fastCheck: NaN, error: result }
  const inputs = Object.keys(result.metafile.inputs)
  return {
    bytes: result.outputFiles[0]!.contents.length,
    modules: inputs.length,
    fastCheck: inputs.filter((input) => input.includes("fast-check")).length,
    error: undefined
  }
}

export const run = async () => {
  const rows: Array<Record<string, unknown>> = []
  for (const [name, source] of entries) {
    const size = await bundle(source)
    rows.push({
      entry: name,
      importMs: Math.round(importTime(source)),
      bundleKB: Math.round(size.bytes / 1024),
      bundledModules: size.modules,
      fastCheckModules: size.fastCheck,
      ...(size.error === undefined ? {} : { bundle: `fails: ${size.error}` })
    })
  }
  report("size", `Import time (median of ${runs} fresh processes) and minified bundle size`, rows)
}
