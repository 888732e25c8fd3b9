/**
 * The name a misspelling meant, among `names`: the same letters in any case,
 * or one or two edits away from them (the closest); `undefined` for none.
 *
 * @internal
 */
export const nearest = (key: string, names: Iterable<string>): string | undefined => {
  const lower = key.toLowerCase()
  let best: string | undefined
  let bestDistance = 3
  for (const name of names) {
    const distance = editDistance(lower, name.toLowerCase(), bestDistance)
    if (distance < bestDistance) {
      best = name
      bestDistance = distance
    }
  }
  return best
}

// Levenshtein distance, giving up at `limit` (keys are short; a long one costs one row per character).
const editDistance = (a: string, b: string, limit: number): number => {
  if (Math.abs(a.length - b.length) >= limit || a.length > 64) return limit
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    previous = current
  }
  return previous[b.length]!
}
