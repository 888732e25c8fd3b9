/**
 * The pieces of `secret` (8 characters or more, taken anywhere in it) that
 * `text` quotes: what a reader of a log line or an error could piece
 * together. Empty when nothing leaked.
 */
export const leaked = (text: string, secret: string): ReadonlyArray<string> => {
  const pieces: Array<string> = []
  for (let i = 0; i + 8 <= secret.length; i++) {
    const piece = secret.slice(i, i + 8)
    if (text.includes(piece)) pieces.push(piece)
  }
  return pieces
}

/** Realistic credentials of each kind this library must never quote. */
export const keys = {
  anthropic: "sk-ant-api03-Ab3dEf6hIj9kLmN0pQr5tUv8wXyZ1a2B3c4D5e6F7g8H9i0J-kLmNoPqRsTuVwXyZAA",
  openai: "sk-proj-Qw3rTy6uIo9pAs2dFg5hJk8lZx1cVb4nMm7QwErTyUiOpAsDfGhJkLzXcVbNmQ",
  awsAccessKeyId: "AKIAIOSFODNN7EXAMPLE",
  awsSecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  awsSessionToken: "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQDsessiontokenEXAMPLE"
} as const
