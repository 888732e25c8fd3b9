/**
 * The sleepers of a discrete-event clock (both lines' `DiscreteTime`): a binary heap by wake-up time, ties in
 * order of arrival. Plain TypeScript, no Effect.
 */
interface Sleeper {
  readonly at: number
  readonly seq: number
  wake: (() => void) | undefined
}

/** A binary heap of sleepers by wake-up time, ties in order of arrival. */
export class Sleepers {
  private readonly heap: Array<Sleeper> = []
  private seq = 0

  get size() {
    return this.heap.length
  }

  push(at: number, wake: () => void): Sleeper {
    const sleeper: Sleeper = { at, seq: this.seq++, wake }
    const heap = this.heap
    heap.push(sleeper)
    let i = heap.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!before(heap[i]!, heap[parent]!)) break
      ;[heap[i], heap[parent]] = [heap[parent]!, heap[i]!]
      i = parent
    }
    return sleeper
  }

  peek(): Sleeper | undefined {
    return this.heap[0]
  }

  pop(): Sleeper | undefined {
    const heap = this.heap
    const top = heap[0]
    const last = heap.pop()
    if (top === undefined || last === undefined || heap.length === 0) return top
    heap[0] = last
    let i = 0
    for (;;) {
      const left = 2 * i + 1
      const right = left + 1
      let smallest = i
      if (left < heap.length && before(heap[left]!, heap[smallest]!)) smallest = left
      if (right < heap.length && before(heap[right]!, heap[smallest]!)) smallest = right
      if (smallest === i) return top
      ;[heap[i], heap[smallest]] = [heap[smallest]!, heap[i]!]
      i = smallest
    }
  }
}

const before = (a: Sleeper, b: Sleeper) => a.at < b.at || (a.at === b.at && a.seq < b.seq)

/**
 * Moves a clock to the earliest sleeper and wakes every sleeper due then (`moveTo` first, so that what they do
 * runs at the new time); false when nobody sleeps.
 */
export const advance = (sleepers: Sleepers, moveTo: (at: number) => void): boolean => {
  const first = sleepers.pop()
  if (first === undefined) return false
  moveTo(first.at)
  first.wake?.()
  while (sleepers.peek()?.at === first.at) sleepers.pop()!.wake?.()
  return true
}
