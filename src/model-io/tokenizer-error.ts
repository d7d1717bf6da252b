/** A tokenizer.json or tokenizer_config.json the studio refuses, or a tokenizer that failed on its input. */
export class TokenizerError extends Error {
  override name = 'TokenizerError';
}
