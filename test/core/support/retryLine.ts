/**
 * How a retry's log line (core/internal/report.ts `retryLine`) ends after a failure whose server hint was `hint`
 * ms, as a RegExp source: the wait (`delay`, a pattern) and why, either the hint itself or the hint as the floor
 * under backoff and jitter (which of the two depends on the jitter's draw).
 */
export const waitOverHint = (hint: number, delay = "\\d+") =>
  `retrying in ${delay} ms(, as the server asked| \\(the server's ${hint} ms hint is the floor; backoff and jitter above it\\))`
