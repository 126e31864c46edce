/**
 * Bad input from the user: a malformed file, an unknown name, an out-of-range value.
 * The CLI prints `error: <message>` on one line and exits 2; anything else is a bug.
 */
export class UserError extends Error {
  override readonly name = 'UserError';
}
