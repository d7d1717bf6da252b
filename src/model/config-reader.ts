/** Typed reading of a config.json object, with errors that name the file, the key and what was expected. */

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Json = Record<string, unknown>;

/**
 * The largest size (a layer count, a dimension, a head count, a vocabulary) a config may give: every index into a
 * dimension must fit the 32-bit integers of the GPU kernels, and no real model comes near it.
 */
export const MAX_CONFIG_SIZE = 2 ** 31 - 1;

export class ConfigReader {
  constructor(
    readonly json: Json,
    readonly file: string,
  ) {}

  /** The raw value of a key. */
  get(key: string): unknown {
    return this.json[key];
  }

  num(key: string, fallback?: number): number {
    const v = this.json[key];
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      throw new ConfigError(`${this.file}: "${key}" is missing; it is required for model_type "${String(this.json.model_type)}"`);
    }
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError(`${this.file}: "${key}" must be a number, got ${JSON.stringify(v)}`);
    return v;
  }

  /** A number above 0 (a norm epsilon, a RoPE base): 0 or less would divide by zero or make NaN downstream. */
  posNum(key: string, fallback?: number): number {
    const v = this.num(key, fallback);
    if (!(v > 0)) throw new ConfigError(`${this.file}: "${key}" must be a number above 0, got ${v}`);
    return v;
  }

  /** A size: a positive integer up to MAX_CONFIG_SIZE. */
  posInt(key: string, fallback?: number): number {
    const v = this.num(key, fallback);
    if (!Number.isInteger(v) || v <= 0) throw new ConfigError(`${this.file}: "${key}" must be a positive integer, got ${v}`);
    if (v > MAX_CONFIG_SIZE) throw new ConfigError(`${this.file}: "${key}" is ${v}; expected a positive integer of at most ${MAX_CONFIG_SIZE} (2^31 - 1)`);
    return v;
  }

  /** true or false; absent means `fallback`. Strings ("yes", "true"), numbers and null are refused, not taken as truthy. */
  bool(key: string, fallback: boolean): boolean {
    const v = this.json[key];
    if (v === undefined) return fallback;
    if (typeof v !== 'boolean') throw new ConfigError(`${this.file}: "${key}" must be true or false, got ${JSON.stringify(v)}`);
    return v;
  }

  /** A token id in [0, vocabSize), or null when absent or null. */
  tokenId(key: string, vocabSize: number): number | null {
    const v = this.json[key];
    if (v === undefined || v === null) return null;
    // Older Llama conversions write "pad_token_id": -1 for "no pad token"; transformers loads them, and so does this.
    if (key === 'pad_token_id' && v === -1) return null;
    if (typeof v !== 'number') throw new ConfigError(`${this.file}: "${key}" must be an integer token id or null, got ${JSON.stringify(v)}`);
    return this.checkId(`"${key}"`, v, vocabSize);
  }

  /** One id or a list of ids (eos_token_id may be either), each in [0, vocabSize); absent or null is []. */
  tokenIdList(key: string, vocabSize: number): number[] {
    const v = this.json[key];
    if (v === undefined || v === null) return [];
    if (typeof v === 'number') return [this.checkId(`"${key}"`, v, vocabSize)];
    if (!Array.isArray(v)) throw new ConfigError(`${this.file}: "${key}" must be a token id, a list of token ids or null, got ${JSON.stringify(v)}`);
    return v.map((x, i) => {
      if (typeof x !== 'number') throw new ConfigError(`${this.file}: "${key}"[${i}] must be an integer token id, got ${JSON.stringify(x)}`);
      return this.checkId(`"${key}"[${i}]`, x, vocabSize);
    });
  }

  /** `label` is the quoted key, with an index for a list's element. */
  private checkId(label: string, v: number, vocabSize: number): number {
    if (!Number.isInteger(v) || v < 0 || v >= vocabSize) {
      throw new ConfigError(`${this.file}: ${label} is ${v}; expected an integer token id in [0, ${vocabSize}) (vocab_size ${vocabSize})`);
    }
    return v;
  }

  fail(message: string): never {
    throw new ConfigError(`${this.file}: ${message}`);
  }
}
