/** A mistake in the command line itself; main.ts prints it with the usage hint. */
export class CliUsageError extends Error {
  override name = 'CliUsageError';
}
