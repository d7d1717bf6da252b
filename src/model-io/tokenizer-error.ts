/** A tokenizer.json or tokenizer_config.json the studio refuses, or a tokenizer that failed on its input. */
export class TokenizerError extends Error {
  override name = 'TokenizerError';
}

/** A TokenizerError about a field of tokenizer.json, at `path` (e.g. "pre_tokenizer.pattern.Regex"). */
export function tokenizerJsonError(path: string, message: string): never {
  throw new TokenizerError(`tokenizer.json: ${path}: ${message}`);
}
