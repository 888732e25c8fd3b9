/**
 * The most characters of a message (a provider's, or any error's) that is
 * kept on an error, written to a log line or searched: 2 KiB.
 *
 * @internal
 */
export const maxMessageChars = 2048

/**
 * `text` cut to {@link maxMessageChars}, marked `... (truncated)` when it was.
 *
 * @internal
 */
export const truncated = (text: string): string =>
  text.length > maxMessageChars ? `${text.slice(0, maxMessageChars)}... (truncated)` : text
