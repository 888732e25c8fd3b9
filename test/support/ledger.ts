import { FleetStore } from "effect-retry-layer"
import * as Effect from "effect/Effect"

/**
 * A memory store that keeps the provider-quota ledger: what reservations
 * charged, net of what settlements gave back (a settlement's negative amount
 * is a charge), with what a sighting charged for calls sent blind. A call
 * that was settled exactly leaves its usage in it.
 */
export const ledger = () => {
  const inner = FleetStore.makeMemory()
  const net: Record<string, number> = {}
  const add = (quota: FleetStore.Quota, sign: number) => {
    for (const [d, amount] of Object.entries(quota)) net[d] = (net[d] ?? 0) + sign * amount
  }
  const store: FleetStore.Service = {
    ...inner,
    reserve: (...args) => Effect.tap(inner.reserve(...args), (r) => add(r.charged, 1)),
    settle: (...args) => Effect.tap(inner.settle(...args), () => add(args[2], -1)),
    observe: (...args) => Effect.tap(inner.observe(...args), () => add(args[3] ?? {}, 1))
  }
  return { store, net }
}
