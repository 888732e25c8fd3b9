/**
 * The Redis store's round trips: an operation that answers nothing goes to
 * Redis in one script with the next that does.
 *
 * A step whose reply the caller waits for (`ask`) goes at once, and with it
 * every step told before it: a step that answers nothing (`tell`: a first
 * attempt recorded, a delivery counted, a reservation settled, a sighting)
 * waits for the next ask, or for the end of the event loop's turn
 * (`setImmediate`) if none comes. Asks are not held back to gather more:
 * the store's timeout counts from the ask, and an ask sent at the end of a
 * long run of JavaScript (a start-up burst of calls) met its timeout before
 * its reply could be read (measured: 4 processes of the Effect 4 line, 2
 * fall-backs to local state in the first seconds, 1.5x the floor). Steps
 * run in the order they were asked, each group (a Redis key on a Cluster,
 * whose keys live on different nodes; everything on one Redis) as one
 * script of at most `maxSteps`.
 *
 * A told step's reply is not read; if its script fails, what it recorded is
 * lost, as it would be with a store that applied it and then went away (every
 * such loss errs towards caution: a budget that counted fewer first attempts,
 * a quota that was given back less).
 */

/** One step: the operation, the key, the caller's clock, the step's arguments as JSON. */
export interface Step {
  readonly op: string
  readonly key: string
  readonly now: number
  readonly args: string
}

/**
 * A step's outcome in its script: `["", reply]`, `["reset", reply]` (its key held a value this library did not
 * write, and was reset), or `["error", message]` (nothing of its key was written by that script).
 */
export type Outcome = readonly [flag: "" | "reset" | "error", reply: string]

/** Runs `steps` as one script (`told[i]`: the i-th step's reply is not wanted). */
export type Send = (steps: ReadonlyArray<Step>, told: ReadonlyArray<boolean>) => Promise<ReadonlyArray<Outcome>>

export interface ScriptPipe {
  /** Runs a step now, with the steps told before it; its outcome, or the script's failure. */
  readonly ask: (step: Step) => Promise<Outcome>
  /**
   * Runs a step with the next script, not waiting for it; while `maxTold` steps wait to be sent, the step goes at
   * once and the promise returned settles with its script (a caller recording in a loop waits for Redis).
   */
  readonly tell: (step: Step) => Promise<void> | undefined
}

/** The most steps in one script (a longer run holds Redis for others). */
export const maxSteps = 64

/** The most told steps waiting to be sent before a told step waits for its script. */
export const maxTold = 4 * maxSteps

export const make = (options: {
  readonly send: Send
  /** The group a key's steps go with (steps of one group may share a script). */
  readonly group: (key: string) => string
  /** What a told step's script said of it (a reset key, to warn of; an error, its script's failure too). */
  readonly told: (step: Step, outcome: Outcome) => void
}): ScriptPipe => {
  interface Queued {
    readonly step: Step
    readonly settle?: { readonly resolve: (o: Outcome) => void; readonly reject: (e: unknown) => void }
  }
  let queue: Array<Queued> = []
  let later = false

  const flush = () => {
    later = false
    const steps = queue
    queue = []
    if (steps.length === 0) return
    const groups = new Map<string, Array<Queued>>()
    for (const queued of steps) {
      const name = options.group(queued.step.key)
      const group = groups.get(name)
      if (group === undefined) groups.set(name, [queued])
      else group.push(queued)
    }
    for (const group of groups.values()) {
      for (let i = 0; i < group.length; i += maxSteps) sendOne(group.slice(i, i + maxSteps))
    }
  }

  const sendOne = (batch: ReadonlyArray<Queued>) => {
    let sent: Promise<ReadonlyArray<Outcome>>
    try {
      sent = options.send(batch.map((q) => q.step), batch.map((q) => q.settle === undefined))
    } catch (error) {
      sent = Promise.reject(error)
    }
    sent.then(
      (outcomes) => {
        batch.forEach((queued, i) => {
          const outcome: Outcome = outcomes[i] ?? ["error", "the script gave no reply for this step"]
          if (queued.settle === undefined) options.told(queued.step, outcome)
          else queued.settle.resolve(outcome)
        })
      },
      (error) => {
        for (const queued of batch) {
          if (queued.settle === undefined) options.told(queued.step, failure(error))
          else queued.settle.reject(error)
        }
      }
    )
  }

  const ask = (step: Step) =>
    new Promise<Outcome>((resolve, reject) => {
      queue.push({ step, settle: { resolve, reject } })
      flush()
    })

  return {
    ask,
    tell: (step) => {
      if (queue.length >= maxTold) {
        return ask(step).then((outcome) => options.told(step, outcome), (error) => options.told(step, failure(error)))
      }
      queue.push({ step })
      if (later) return
      later = true
      // (`setImmediate` is Node's, Bun's and Deno's; elsewhere, the next turn)
      if (typeof setImmediate === "function") setImmediate(flush)
      else setTimeout(flush, 0)
    }
  }
}

// A script's failure as a told step's outcome.
const failure = (error: unknown): Outcome => ["error", error instanceof Error ? error.message : String(error)]
