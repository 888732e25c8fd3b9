/**
 * The most attempts a retry policy may have: more is a mistake (1e300, a count of milliseconds), not a policy;
 * at the default 30 s cap 1,000 attempts already take over eight hours, and a longer effort wants `maxElapsed`.
 * A call retried until its deadline (`untilDeadline`) stops here too.
 */
export const maxAttemptsBound = 1000
