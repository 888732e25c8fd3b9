import { writeFileSync } from "node:fs"

export interface Series {
  readonly name: string
  /** Completion times in ms, ascending. */
  readonly completions: ReadonlyArray<number>
}

const colours = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666"]

/** A step chart of completed clients over time, one line per strategy, as an SVG file. */
export const completionChart = (path: URL, title: string, total: number, series: ReadonlyArray<Series>) => {
  const width = 900
  const height = 420
  const left = 60
  const right = 330
  const top = 40
  const bottom = 50
  const plotWidth = width - left - right
  const plotHeight = height - top - bottom
  const maxSeconds = Math.max(...series.flatMap((s) => s.completions.slice(-1))) / 1000
  const tick = niceStep(maxSeconds / 6)
  const xMax = Math.ceil(maxSeconds / tick) * tick
  const x = (seconds: number) => left + (seconds / xMax) * plotWidth
  const y = (done: number) => top + plotHeight - (done / total) * plotHeight
  const lines = series.map((s, i) => {
    const step = Math.max(1, Math.floor(s.completions.length / 400))
    const points = [`${x(0)},${y(0)}`]
    for (let k = 0; k < s.completions.length; k += step) points.push(`${x(s.completions[k]! / 1000)},${y(k + 1)}`)
    const last = s.completions.length
    if (last > 0) points.push(`${x(s.completions[last - 1]! / 1000)},${y(last)}`)
    const colour = colours[i % colours.length]
    return `<polyline fill="none" stroke="${colour}" stroke-width="2" points="${points.join(" ")}"/>` +
      `<rect x="${width - right + 20}" y="${top + i * 22}" width="14" height="4" fill="${colour}"/>` +
      `<text x="${width - right + 40}" y="${top + i * 22 + 6}">${escape(s.name)}</text>`
  })
  const xTicks = Array.from({ length: Math.round(xMax / tick) + 1 }, (_, i) => i * tick).map((t) =>
    `<line x1="${x(t)}" y1="${top + plotHeight}" x2="${x(t)}" y2="${top + plotHeight + 5}" stroke="#333"/>` +
    `<text x="${x(t)}" y="${top + plotHeight + 20}" text-anchor="middle">${t}</text>`
  )
  const yTicks = [0, 0.25, 0.5, 0.75, 1].map((f) =>
    `<line x1="${left}" y1="${y(f * total)}" x2="${left + plotWidth}" y2="${y(f * total)}" stroke="#ddd"/>` +
    `<text x="${left - 8}" y="${y(f * total) + 4}" text-anchor="end">${Math.round(f * 100)}%</text>`
  )
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" ` +
    `font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="${left}" y="22" font-size="14" font-weight="bold">${escape(title)}</text>
${yTicks.join("\n")}
${xTicks.join("\n")}
<line x1="${left}" y1="${top + plotHeight}" x2="${left + plotWidth}" y2="${top + plotHeight}" stroke="#333"/>
<text x="${left + plotWidth / 2}" y="${height - 10}" text-anchor="middle">seconds of virtual time</text>
${lines.join("\n")}
</svg>
`
  writeFileSync(path, svg)
}

const niceStep = (raw: number) => {
  const power = 10 ** Math.floor(Math.log10(raw))
  return [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power
}

const escape = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
