/** Typed reading of a config.json object, with errors that name the file, the key and what was expected. */

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Json = Record<string, unknown>;

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

  posInt(key: string, fallback?: number): number {
    const v = this.num(key, fallback);
    if (!Number.isInteger(v) || v <= 0) throw new ConfigError(`${this.file}: "${key}" must be a positive integer, got ${v}`);
    return v;
  }

  /** An integer id, or null when absent or not an integer. */
  optionalId(key: string): number | null {
    const v = this.json[key];
    return typeof v === 'number' && Number.isInteger(v) ? v : null;
  }

  /** One id or a list of ids (eos_token_id may be either). */
  idList(key: string): number[] {
    const v = this.json[key];
    if (typeof v === 'number' && Number.isInteger(v)) return [v];
    if (Array.isArray(v)) return v.filter((x): x is number => typeof x === 'number' && Number.isInteger(x));
    return [];
  }

  fail(message: string): never {
    throw new ConfigError(`${this.file}: ${message}`);
  }
}
