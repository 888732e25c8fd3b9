/**
 * The limiter's waiting line, by priority: the highest class first, and a class with callers waiting served at
 * least once in `Priority.starvationBound` turns; within a class, tenants in proportion to their weights
 * (`Tenant`: start-time fair queueing, a tenant that comes back from idle starting at the class's virtual time,
 * so it gets its share from then on and no burst for the time it was away), each tenant's retries first (a retry
 * is of a call that came before any first attempt still waiting), then in arrival order.
 * Plain TypeScript: the dispatcher owns it and calls it from one fiber at a time.
 *
 * @internal
 */
import { highestPriority as highest, starvationBound } from "./fleetSteps.js"

/** A tenant as the line weighs it: its key, and its weight (the first of its waiters' while it has any). @internal */
export interface Tenant {
  readonly key: string
  readonly weight: number
}

/** The tenant of calls that name none. @internal */
export const noTenant: Tenant = { key: "", weight: 1 }

/** @internal */
export interface PriorityLine<W> {
  /** In line behind the others of its class and tenant; a `retry`, behind their retries only. */
  readonly push: (priority: number, tenant: Tenant, waiter: W, retry: boolean) => void
  /** Puts back at the head of its class and tenant one that was taken and not served. */
  readonly putBack: (priority: number, tenant: Tenant, waiter: W, retry: boolean) => void
  /**
   * The next to serve, its priority and its tenant, taken out of the line; with `tenant`, the first of that
   * tenant's in the class served next, if it has any there (the tenant the fleet gave a send slot to, of those
   * the ask named: see `others`).
   */
  readonly take: (
    tenant?: string
  ) => { readonly waiter: W; readonly priority: number; readonly tenant: Tenant } | undefined
  /** The waiter the next `take` serves, left in the line. */
  readonly peek: () => W | undefined
  /** The tenants waiting in the class the next `take` serves, but the one it serves, in the order they came. */
  readonly others: (max: number) => ReadonlyArray<Tenant>
  /** The priority the next `take` serves (-1 when nobody waits). */
  readonly next: () => number
  /** The highest priority waiting (-1 when nobody waits): what this process asks the fleet's store for. */
  readonly top: () => number
  readonly size: () => number
  /**
   * How many a newcomer of `priority` would wait for: those in the classes above it, and those of its own (its
   * retries only, for a `retry`).
   */
  readonly ahead: (priority: number, retry: boolean) => number
  /** Everyone, taken out of the line. */
  readonly drain: () => ReadonlyArray<W>
}

/** @internal */
export const make = <W>(): PriorityLine<W> => {
  const fifos = Array.from({ length: highest + 1 }, () => classLine<W>())
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
    push: (priority, tenant, waiter, retry) => {
      fifos[priority]!.push(tenant, waiter, retry)
      size++
    },
    putBack: (priority, tenant, waiter, retry) => {
      fifos[priority]!.unshift(tenant, waiter, retry)
      size++
    },
    take: (tenant) => {
      const c = nextClass()
      if (c === -1) return undefined
      for (let other = 0; other <= highest; other++) {
        passed[other] = other === c || fifos[other]!.size() === 0 ? 0 : passed[other]! + 1
      }
      size--
      const taken = fifos[c]!.shift(tenant)!
      return { waiter: taken.waiter, priority: c, tenant: taken.tenant }
    },
    peek: () => {
      const c = nextClass()
      return c === -1 ? undefined : fifos[c]!.first()
    },
    others: (max) => {
      const c = nextClass()
      return c === -1 ? [] : fifos[c]!.others(max)
    },
    next: nextClass,
    top: () => {
      for (let c = highest; c >= 0; c--) if (fifos[c]!.size() > 0) return c
      return -1
    },
    size: () => size,
    ahead: (priority, retry) => {
      let n = retry ? fifos[priority]!.retries() : fifos[priority]!.size()
      for (let c = highest; c > priority; c--) n += fifos[c]!.size()
      return n
    },
    drain: () => {
      size = 0
      passed.fill(0)
      return fifos.flatMap((f) => f.drain())
    }
  }
}

// One class's callers, by tenant: the tenant with the lowest pass goes next (the earliest to come back on a tie),
// and each send adds 1 / weight to its pass; a tenant with nobody waiting is forgotten, and starts again at the
// class's virtual time (the lowest pass when one was last served). Each tenant's retries go before its first
// attempts. A tenant may be served out of turn (the one the fleet's store gave a slot to).
const classLine = <W>() => {
  interface Queue {
    readonly tenant: Tenant
    readonly retries: Fifo<W>
    readonly fifo: Fifo<W>
    pass: number
  }
  const tenants = new Map<string, Queue>()
  let virtual = 0
  let size = 0
  let retries = 0
  const nextTenant = () => {
    let best: Queue | undefined
    for (const queue of tenants.values()) if (best === undefined || queue.pass < best.pass) best = queue
    return best
  }
  const queueOf = (tenant: Tenant) => {
    let queue = tenants.get(tenant.key)
    if (queue === undefined) {
      tenants.set(tenant.key, queue = { tenant, retries: fifo<W>(), fifo: fifo<W>(), pass: virtual })
    }
    return queue
  }
  const added = (retry: boolean) => {
    size++
    if (retry) retries++
  }
  return {
    size: () => size,
    retries: () => retries,
    first: (): W | undefined => {
      const queue = nextTenant()
      return queue === undefined ? undefined : queue.retries.first() ?? queue.fifo.first()
    },
    push: (tenant: Tenant, waiter: W, retry: boolean) => {
      const queue = queueOf(tenant)
      ;(retry ? queue.retries : queue.fifo).push(waiter)
      added(retry)
    },
    unshift: (tenant: Tenant, waiter: W, retry: boolean) => {
      const queue = queueOf(tenant)
      queue.pass = Math.max(virtual, queue.pass - 1 / queue.tenant.weight)
      ;(retry ? queue.retries : queue.fifo).unshift(waiter)
      added(retry)
    },
    others: (max: number): Array<Tenant> => {
      const first = nextTenant()
      const all: Array<Tenant> = []
      for (const queue of tenants.values()) {
        if (all.length >= max) break
        if (queue !== first) all.push(queue.tenant)
      }
      return all
    },
    shift: (key?: string): { readonly tenant: Tenant; readonly waiter: W } | undefined => {
      const lowest = nextTenant()
      if (lowest === undefined) return undefined
      const queue = (key === undefined ? undefined : tenants.get(key)) ?? lowest
      virtual = lowest.pass
      queue.pass = queue.pass + 1 / queue.tenant.weight
      const retry = queue.retries.size() > 0
      const waiter = (retry ? queue.retries : queue.fifo).shift()!
      size--
      if (retry) retries--
      if (queue.retries.size() === 0 && queue.fifo.size() === 0) tenants.delete(queue.tenant.key)
      return { tenant: queue.tenant, waiter }
    },
    drain: (): Array<W> => {
      const all = [...tenants.values()].flatMap((queue) => [...queue.retries.drain(), ...queue.fifo.drain()])
      tenants.clear()
      size = 0
      retries = 0
      return all
    }
  }
}

type Fifo<W> = ReturnType<typeof fifo<W>>

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
