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
 * the sources it maps; each problem with its file and line. What a file declares need not be used.
 */
export const compile = (
  dir: string,
  files: ReadonlyMap<string, string>
): ReadonlyArray<{ readonly file: string; readonly line: number; readonly message: string }> => {
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
  return ts.getPreEmitDiagnostics(program).filter((d) => d.file !== undefined && files.has(d.file.fileName)).map((
    d
  ) => ({
    file: d.file!.fileName,
    line: d.file!.getLineAndCharacterOfPosition(d.start ?? 0).line,
    message: ts.flattenDiagnosticMessageText(d.messageText, " ")
  }))
}

/** The TypeScript problems of `spans` after `prelude`, compiled with the tsconfig in `dir`, as a file there. */
export const problems = (dir: string, prelude: string, spans: ReadonlyArray<string>): ReadonlyArray<string> => {
  const body = spans.map((span) => span.startsWith("const ") ? `  ${span}` : `  void (${span})`).join("\n")
  const source = `${prelude}\nexport const wiring = async () => {\n${body}\n}\n`
  const lines = source.split("\n")
  return compile(dir, new Map([[join(dir, "examples", "__choosing.ts"), source]])).map(({ line, message }) =>
    `${lines[line]!.trim().slice(0, 100)}: ${message}`
  )
}
