import * as Effect from "effect/Effect"
import * as Tracer from "effect/Tracer"

/**
 * A tracer that keeps every span the native tracer makes, for tests to read back.
 */
export const capturingTracer = Effect.map(Effect.tracer, (base) => {
  const spans: Array<Tracer.Span> = []
  const tracer = Tracer.make({
    span: (...args) => {
      const span = base.span(...args)
      spans.push(span)
      return span
    },
    context: base.context
  })
  return { tracer, spans }
})
