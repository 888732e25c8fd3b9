/**
 * Where a stream commits, for both lines' readers (`internal/commit.ts` in each): a judge sees each read's
 * items, with those held so far, and says where the first committing item is (`-1`: hold them all and read on),
 * or gives a failure instead (an in-band error before the commit point).
 *
 * @internal
 */
export type Judge<A, F> = (items: ReadonlyArray<A>, held: ReadonlyArray<A>) => number | { readonly fail: F }

/**
 * Commits at the first item of any read: a `CompletionModel` stream with `commitOn: "first-chunk"`.
 *
 * @internal
 */
export const firstItem: Judge<unknown, never> = (items) => items.length > 0 ? 0 : -1
