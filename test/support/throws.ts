// Free of Effect: the shared tests (test/core) of both lines use it.

/** What `f(input)` throws, or `undefined` if it returns: for checking how options are refused. */
export const thrown = <I>(f: (input: I) => unknown) => (input: unknown): unknown => {
  try {
    f(input as I)
    return undefined
  } catch (error) {
    return error
  }
}
