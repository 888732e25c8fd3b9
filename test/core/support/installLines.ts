/**
 * The README's install lines for one Effect line, read from its block under "## Install" / "### Effect N", and
 * run as written in a fresh project. Both lines' package tests use it, so each checks the lines a user copies.
 */
import { execFile } from "node:child_process"
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import semver from "semver"

/** Runs a command in `cwd` without the test runner's NODE_OPTIONS (its shims are paths relative to a line). */
export const run = (command: string, args: ReadonlyArray<string>, cwd: string) =>
  promisify(execFile)(command, args, { cwd, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, NODE_OPTIONS: "" } })

export interface InstallBlock {
  /** Each `npm install ...` line, in order. */
  readonly commands: ReadonlyArray<string>
  /** Every package those lines ask for, with its range (`undefined` when the line gives none). */
  readonly packages: ReadonlyArray<readonly [name: string, range: string | undefined]>
}

const words = (command: string) => command.slice("npm install ".length).split(/\s+/).filter((word) => word !== "")

const spec = (word: string) => {
  const at = word.lastIndexOf("@")
  return at > 0 ? [word.slice(0, at), word.slice(at + 1)] as const : [word, undefined] as const
}

/** The install block of `line` in the README at `readmePath`. */
export const installBlock = (readmePath: string, line: "Effect 3" | "Effect 4"): InstallBlock => {
  const readme = readFileSync(readmePath, "utf8")
  const section = readme.slice(readme.indexOf("## Install\n"), readme.indexOf("\n## ", readme.indexOf("## Install\n")))
  const heading = section.indexOf(`### ${line}\n`)
  if (heading < 0) throw new Error(`README: no "### ${line}" under "## Install"`)
  const open = section.indexOf("```sh\n", heading) + "```sh\n".length
  const block = section.slice(open, section.indexOf("\n```", open))
  const commands = block.split("\n").filter((row) => row.startsWith("npm install "))
  return { commands, packages: commands.flatMap((command) => words(command).map(spec)) }
}

/**
 * Runs `commands` one by one in `app`, as a user would, except that this package (not on the registry while it is
 * being tested) is the tarball `tarball` of version `version`, which must be inside the range the line asks for.
 */
export const runInstall = async (
  app: string,
  commands: ReadonlyArray<string>,
  tarball: { readonly path: string; readonly version: string }
) => {
  for (const command of commands) {
    const args = words(command).map((word) => {
      const [name, range] = spec(word)
      if (name !== "effect-retry-layer") return word
      if (range === undefined || !semver.satisfies(tarball.version, range)) {
        throw new Error(`"${command}" asks for ${word}, which the package being tested (${tarball.version}) is not`)
      }
      return tarball.path
    })
    // --prefer-offline only spares the registry what npm's cache already has.
    await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", ...args], app)
  }
}

/**
 * `use` run with an empty ESM project and the package in `packageDir` packed beside it (its prepack builds it), in
 * a temporary directory removed afterwards.
 */
export const inFreshProject = async (
  packageDir: string,
  use: (app: string, tarball: { readonly path: string; readonly version: string }) => Promise<void>
) => {
  const dir = mkdtempSync(join(tmpdir(), "erl-package-"))
  try {
    await run("npm", ["pack", "--pack-destination", dir, "--silent"], packageDir)
    const name = readdirSync(dir).find((file) => file.endsWith(".tgz"))!
    const { version } = JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8")) as { version: string }
    const app = join(dir, "app")
    mkdirSync(app)
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }))
    await use(app, { path: join(dir, name), version })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Every version of `effect` in the project's tree. */
export const effectVersions = async (app: string) => {
  const { stdout } = await run("npm", ["ls", "effect", "--all", "--parseable", "--long"], app)
  return new Set(
    stdout.split("\n").filter((row) => row.includes("node_modules/effect:")).map((row) => row.split(":")[1])
  )
}

/**
 * `source` as the project's consumer.ts, typechecked strictly (declarations included) under each module resolution
 * (NodeNext and Bundler unless told), with the ambient `types` the project installed. With `declarationsOf`, every
 * declaration file that package installed is checked too, in the first resolution's program (a user's
 * `skipLibCheck: false` meets all of them sooner or later). The resolutions' programs run side by side.
 */
export const typecheck = (
  app: string,
  source: string,
  tsc: string,
  options: {
    readonly types?: ReadonlyArray<string>
    readonly resolutions?: ReadonlyArray<"NodeNext" | "Bundler" | "Node10">
    readonly declarationsOf?: string
  } = {}
) => {
  const { declarationsOf, resolutions = ["NodeNext", "Bundler"], types = [] } = options
  writeFileSync(join(app, "consumer.ts"), source)
  return Promise.all(resolutions.map((moduleResolution, i) => {
    const compilerOptions = {
      target: "ES2022",
      module: { NodeNext: "NodeNext", Bundler: "ESNext", Node10: "CommonJS" }[moduleResolution],
      moduleResolution,
      strict: true,
      exactOptionalPropertyTypes: true,
      noEmit: true,
      skipLibCheck: false,
      types
    }
    const declarations = i === 0 && declarationsOf !== undefined ? [`node_modules/${declarationsOf}/**/*.d.ts`] : []
    writeFileSync(
      join(app, `tsconfig.${moduleResolution}.json`),
      JSON.stringify({ compilerOptions, files: ["consumer.ts"], include: declarations, exclude: [] })
    )
    return run(process.execPath, [tsc, "-p", `tsconfig.${moduleResolution}.json`], app).catch((error) => {
      throw new Error(`${moduleResolution}: ${(error as { stdout: string }).stdout}`)
    })
  }))
}

/** `source` run as an ES module in the project; its output's last line. */
export const runScript = async (app: string, source: string) => {
  const file = `script-${readdirSync(app).length}.mjs`
  writeFileSync(join(app, file), source)
  const { stdout } = await run(process.execPath, [file], app)
  return stdout.trim().split("\n").at(-1)
}
