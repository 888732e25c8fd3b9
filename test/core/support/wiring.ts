/**
 * The wiring docs/choosing.md gives for one Effect line, typechecked against that line's sources: every code span
 * with a call in the section's third column, in order, in one async function after `prelude` (the imports and the names the
 * page leaves to the reader, such as `YourModel`). A span that starts with `const` is a statement; any other is an
 * expression. Both lines' tests use it, each with its own tsconfig.
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import ts from "typescript"

/** The wiring spans of the section `## <heading>` of choosing.md. */
export const wiring = (page: string, heading: string): ReadonlyArray<string> => {
  const text = readFileSync(page, "utf8")
  const start = text.indexOf(`## ${heading}`)
  if (start < 0) throw new Error(`${page}: no "## ${heading}"`)
  const end = text.indexOf("\n## ", start + 1)
  const rows = text.slice(start, end < 0 ? undefined : end).split("\n").filter((row) =>
    row.startsWith("| ") && !row.startsWith("| situation") && !row.startsWith("| ---")
  )
  // a span without a call is a name in prose (`it.effect`), not wiring
  return rows.flatMap((row) =>
    [...(row.split(" | ")[2] ?? "").matchAll(/`([^`]+)`/g)].map((span) => span[1]!).filter((span) => span.includes("("))
  )
}

/**
 * The TypeScript problems of `files` (path -> source, held in memory), compiled with the tsconfig in `dir` and
 * the sources it maps; each problem with its file and line. What a file declares need not be used. One file is
 * checked at a time, with a turn of the event loop between: the whole program checked in one go blocked the
 * test worker for 65 s on a loaded machine, past vitest's 60 s for a worker's report, which failed the run.
 */
export const compile = async (
  dir: string,
  files: ReadonlyMap<string, string>
): Promise<ReadonlyArray<{ readonly file: string; readonly line: number; readonly message: string }>> => {
  const config = ts.getParsedCommandLineOfConfigFile(join(dir, "tsconfig.json"), {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, "\n"))
    }
  })!
  const options = { ...config.options, noEmit: true, noUnusedLocals: false, noUnusedParameters: false }
  const host = ts.createCompilerHost(options)
  const read = host.readFile.bind(host)
  const exists = host.fileExists.bind(host)
  host.readFile = (name) => files.get(name) ?? read(name)
  host.fileExists = (name) => files.has(name) || exists(name)
  const program = ts.createProgram([...files.keys()], options, host)
  const found: Array<{ readonly file: string; readonly line: number; readonly message: string }> = []
  for (const name of files.keys()) {
    await new Promise((resolve) => setImmediate(resolve))
    const source = program.getSourceFile(name)
    if (source === undefined) throw new Error(`${name}: not in the program`)
    const diagnostics = [
      ...program.getSyntacticDiagnostics(source),
      ...program.getSemanticDiagnostics(source),
      ...(options.declaration === true ? program.getDeclarationDiagnostics(source) : [])
    ]
    for (const d of diagnostics) {
      found.push({
        file: name,
        line: source.getLineAndCharacterOfPosition(d.start ?? 0).line,
        message: ts.flattenDiagnosticMessageText(d.messageText, " ")
      })
    }
  }
  return found
}

/** The TypeScript problems of `spans` after `prelude`, compiled with the tsconfig in `dir`, as a file there. */
export const problems = async (
  dir: string,
  prelude: string,
  spans: ReadonlyArray<string>
): Promise<ReadonlyArray<string>> => {
  const body = spans.map((span) => span.startsWith("const ") ? `  ${span}` : `  void (${span})`).join("\n")
  const source = `${prelude}\nexport const wiring = async () => {\n${body}\n}\n`
  const lines = source.split("\n")
  return (await compile(dir, new Map([[join(dir, "examples", "__choosing.ts"), source]]))).map(({ line, message }) =>
    `${lines[line]!.trim().slice(0, 100)}: ${message}`
  )
}
