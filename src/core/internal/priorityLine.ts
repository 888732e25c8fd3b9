/**
 * The limiter's waiting line, by priority: the highest class first, each class in arrival order, and a class
 * with callers waiting served at least once in `Priority.starvationBound` turns. Plain TypeScript: the
 * dispatcher owns it and calls it from one fiber at a time.
 *
 * @internal
 */
import { highestPriority as highest, starvationBound } from "./fleetSteps.js"

/** @internal */
export interface PriorityLine<W> {
  readonly push: (priority: number, waiter: W) => void
  /** Puts back at the head of its class one that was taken and not served. */
  readonly putBack: (priority: number, waiter: W) => void
  /** The next to serve and its priority, taken out of the line. */
  readonly take: () => { readonly waiter: W; readonly priority: number } | undefined
  /** The waiter the next `take` serves, left in the line. */
  readonly peek: () => W | undefined
  /** The priority the next `take` serves (-1 when nobody waits). */
  readonly next: () => number
  /** The highest priority waiting (-1 when nobody waits): what this process asks the fleet's store for. */
  readonly top: () => number
  readonly size: () => number
  /** How many wait in classes at or above `priority`: those a newcomer of it would wait for. */
  readonly ahead: (priority: number) => number
  /** Everyone, taken out of the line. */
  readonly drain: () => ReadonlyArray<W>
}

/** @internal */
export const make = <W>(): PriorityLine<W> => {
  const fifos = Array.from({ length: highest + 1 }, () => fifo<W>())
  // Turns each class with callers waiting has been passed over since it was last served.
  const passed = Array.from({ length: highest + 1 }, () => 0)
  let size = 0

  // The class served next: one passed over for a whole bound's turns (the longest passed first), else the highest.
  const nextClass = (): number => {
    let due = -1
    let top = -1
    for (let c = highest; c >= 0; c--) {
      if (fifos[c]!.size() === 0) continue
      if (top === -1) top = c
      if (passed[c]! >= starvationBound - 1 && (due === -1 || passed[c]! > passed[due]!)) due = c
    }
    return due === -1 ? top : due
  }

  return {
    push: (priority, waiter) => {
      fifos[priority]!.push(waiter)
      size++
    },
    putBack: (priority, waiter) => {
      fifos[priority]!.unshift(waiter)
      size++
    },
    take: () => {
      const c = nextClass()
      if (c === -1) return undefined
      for (let other = 0; other <= highest; other++) {
        passed[other] = other === c || fifos[other]!.size() === 0 ? 0 : passed[other]! + 1
      }
      size--
      return { waiter: fifos[c]!.shift()!, priority: c }
    },
    peek: () => {
      const c = nextClass()
      return c === -1 ? undefined : fifos[c]!.first()
    },
    next: nextClass,
    top: () => {
      for (let c = highest; c >= 0; c--) if (fifos[c]!.size() > 0) return c
      return -1
    },
    size: () => size,
    ahead: (priority) => {
      let n = 0
      for (let c = highest; c >= priority; c--) n += fifos[c]!.size()
      return n
    },
    drain: () => {
      size = 0
      passed.fill(0)
      return fifos.flatMap((f) => f.drain())
    }
  }
}

// A queue of arrival order whose shift is O(1) (an array's is O(n): 10,000 waiting made each take a copy).
const fifo = <W>() => {
  let items: Array<W> = []
  let head = 0
  return {
    size: () => items.length - head,
    first: (): W | undefined => items[head],
    push: (w: W) => {
      items.push(w)
    },
    unshift: (w: W) => {
      if (head > 0) items[--head] = w
      else items.unshift(w)
    },
    shift: (): W | undefined => {
      if (head === items.length) return undefined
      const w = items[head]!
      items[head++] = undefined as W
      if (head > 1024 && head * 2 > items.length) {
        items = items.slice(head)
        head = 0
      }
      return w
    },
    drain: (): Array<W> => {
      const all = items.slice(head)
      items = []
      head = 0
      return all
    }
  }
}
