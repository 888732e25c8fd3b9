import { writeFileSync } from "node:fs"

export interface Series {
  readonly name: string
  /** Completion times in ms, ascending. */
  readonly completions: ReadonlyArray<number>
}

/** A line of a chart: its points, x in seconds of virtual time. */
export interface Line {
  readonly name: string
  readonly points: ReadonlyArray<readonly [number, number]>
}

/** The y axis: its label, its top, and how a tick's value reads. */
export interface Axis {
  readonly label: string
  readonly max: number
  readonly format: (value: number) => string
}

const colours = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666"]

/**
 * A step chart of completed clients over time, one line per strategy, as an SVG file; up to `untilSeconds` (each
 * line then ends at its count so far), or to the last completion.
 */
export const completionChart = (
  path: URL,
  title: string,
  total: number,
  series: ReadonlyArray<Series>,
  untilSeconds?: number
) =>
  lineChart(
    path,
    title,
    { label: "done", max: total, format: (done) => `${Math.round((done / total) * 100)}%` },
    series.map((s) => {
      // steps: each completion a rise at its time
      const points = [
        [0, 0] as const,
        ...s.completions.flatMap((at, k) => [[at / 1000, k], [at / 1000, k + 1]] as const)
      ]
      if (untilSeconds === undefined) return { name: s.name, points }
      const kept = points.filter(([at]) => at <= untilSeconds)
      return { name: s.name, points: [...kept, [untilSeconds, kept.at(-1)![1]] as const] }
    })
  )

/** Lines over virtual time (at most 400 points drawn of each, none after `untilSeconds`), as an SVG file. */
export const lineChart = (
  path: URL,
  title: string,
  axis: Axis,
  all: ReadonlyArray<Line>,
  untilSeconds?: number
) => {
  const lines = untilSeconds === undefined
    ? all
    : all.map((l) => ({ name: l.name, points: l.points.filter(([at]) => at <= untilSeconds) }))
  const width = 900
  const height = 420
  const left = 60
  const right = 330
  const top = 40
  const bottom = 50
  const plotWidth = width - left - right
  const plotHeight = height - top - bottom
  const maxSeconds = untilSeconds ?? Math.max(...lines.flatMap((l) => l.points.map(([x]) => x)))
  const tick = niceStep(maxSeconds / 6)
  const xMax = Math.ceil(maxSeconds / tick) * tick
  const x = (seconds: number) => round(left + (seconds / xMax) * plotWidth)
  const y = (value: number) => round(top + plotHeight - (Math.min(value, axis.max) / axis.max) * plotHeight)
  const drawn = lines.map((l, i) => {
    const step = Math.max(1, Math.floor(l.points.length / 400))
    const kept = l.points.filter((_, k) => k % step === 0 || k === l.points.length - 1)
    const colour = colours[i % colours.length]
    return `<polyline fill="none" stroke="${colour}" stroke-width="2" points="${
      kept.map(([px, py]) => `${x(px)},${y(py)}`).join(" ")
    }"/>` +
      `<rect x="${width - right + 20}" y="${top + i * 22}" width="14" height="4" fill="${colour}"/>` +
      `<text x="${width - right + 40}" y="${top + i * 22 + 6}">${escape(l.name)}</text>`
  })
  const xTicks = Array.from({ length: Math.round(xMax / tick) + 1 }, (_, i) => i * tick).map((t) =>
    `<line x1="${x(t)}" y1="${top + plotHeight}" x2="${x(t)}" y2="${top + plotHeight + 5}" stroke="#333"/>` +
    `<text x="${x(t)}" y="${top + plotHeight + 20}" text-anchor="middle">${round(t)}</text>`
  )
  const yTicks = [0, 0.25, 0.5, 0.75, 1].map((f) =>
    `<line x1="${left}" y1="${y(f * axis.max)}" x2="${left + plotWidth}" y2="${y(f * axis.max)}" stroke="#ddd"/>` +
    `<text x="${left - 8}" y="${y(f * axis.max) + 4}" text-anchor="end">${escape(axis.format(f * axis.max))}</text>`
  )
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" ` +
    `font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="${left}" y="22" font-size="14" font-weight="bold">${escape(title)}</text>
${yTicks.join("\n")}
${xTicks.join("\n")}
<line x1="${left}" y1="${top + plotHeight}" x2="${left + plotWidth}" y2="${top + plotHeight}" stroke="#333"/>
<text x="${left + plotWidth / 2}" y="${height - 10}" text-anchor="middle">seconds of virtual time</text>
<text x="14" y="${top + plotHeight / 2}" transform="rotate(-90 14 ${top + plotHeight / 2})" text-anchor="middle">${
      escape(axis.label)
    }</text>
${drawn.join("\n")}
</svg>
`
  writeFileSync(path, svg)
}

const niceStep = (raw: number) => {
  const power = 10 ** Math.floor(Math.log10(raw))
  return [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power
}

const round = (n: number) => Math.round(n * 100) / 100

const escape = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
