/**
 * Choosing the next token from one position's logits, with transformers' semantics (generation/logits_process.py):
 * RepetitionPenaltyLogitsProcessor first; then greedy argmax when sampling is off; else TemperatureLogitsWarper,
 * TopKLogitsWarper, TopPLogitsWarper, softmax, and one draw from `rng` (e.g. `mulberry32(seed)` from
 * util/random.ts), so a seed gives a reproducible sequence.
 */

export interface SamplingOptions {
  /** Divides the logits; 0 means greedy. Default 1. */
  temperature?: number;
  /** Keep the k highest logits (and any tied with the k-th); 0 = off. Default 0 (transformers' GenerationConfig uses 50). */
  topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches topP, in (0, 1]. Default 1 (off). */
  topP?: number;
  /** > 0; 1 = off. Each id seen before: logit > 0 → logit / penalty, else logit · penalty. Default 1. */
  repetitionPenalty?: number;
  /** false = greedy, as transformers' default do_sample=False. Default false. */
  doSample?: boolean;
}

/** Checks the options, with a RangeError that names the bad one. */
export function validateSamplingOptions(opts: SamplingOptions): void {
  const { temperature, topK, topP, repetitionPenalty } = opts;
  if (temperature !== undefined && !(Number.isFinite(temperature) && temperature >= 0)) {
    throw new RangeError(`temperature must be a finite number ≥ 0 (0 = greedy), got ${temperature}`);
  }
  if (topK !== undefined && !(Number.isInteger(topK) && topK >= 0)) {
    throw new RangeError(`topK must be an integer ≥ 0 (0 = off), got ${topK}`);
  }
  if (topP !== undefined && !(topP > 0 && topP <= 1)) {
    throw new RangeError(`topP must be in (0, 1] (1 = off), got ${topP}`);
  }
  if (repetitionPenalty !== undefined && !(Number.isFinite(repetitionPenalty) && repetitionPenalty > 0)) {
    throw new RangeError(`repetitionPenalty must be a finite number > 0 (1 = off), got ${repetitionPenalty}`);
  }
}

/** RepetitionPenaltyLogitsProcessor: a copy of the logits, penalised at every id in `previousIds`. */
export function applyRepetitionPenalty(logits: ArrayLike<number>, previousIds: number[], penalty: number): Float64Array {
  const out = Float64Array.from(logits);
  if (penalty === 1) return out;
  for (const id of new Set(previousIds)) {
    if (!Number.isInteger(id) || id < 0 || id >= out.length) {
      throw new RangeError(`previousIds holds ${id}, which is not a token id in [0, ${out.length})`);
    }
    const s = logits[id];
    out[id] = s < 0 ? s * penalty : s / penalty;
  }
  return out;
}

/** Index of the largest value, the lowest on ties. */
export function argmax(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

/**
 * The processed distribution the sampler draws from (after penalty, temperature, top-k, top-p), as
 * probabilities; filtered tokens have probability 0. Needs doSample and temperature > 0.
 */
export function samplingDistribution(logits: ArrayLike<number>, previousIds: number[], opts: SamplingOptions): Float64Array {
  validateSamplingOptions(opts);
  const temperature = opts.temperature ?? 1;
  if (temperature === 0) throw new RangeError('samplingDistribution: temperature 0 is greedy and has no distribution');
  const scores = applyRepetitionPenalty(logits, previousIds, opts.repetitionPenalty ?? 1);
  const V = scores.length;
  if (temperature !== 1) for (let i = 0; i < V; i++) scores[i] /= temperature;

  const topK = Math.min(opts.topK ?? 0, V);
  if (topK > 0 && topK < V) {
    // TopKLogitsWarper: remove scores below the k-th largest (ties with it stay).
    const kth = Float64Array.from(scores).sort()[V - topK];
    for (let i = 0; i < V; i++) if (scores[i] < kth) scores[i] = -Infinity;
  }

  const probs = softmax(scores);
  const topP = opts.topP ?? 1;
  if (topP < 1) {
    // TopPLogitsWarper: sort ascending, cumulative probability; drop those with cumsum ≤ 1 − top_p; keep the top one.
    const order = Array.from({ length: V }, (_, i) => i).sort((a, b) => scores[a] - scores[b] || b - a);
    let cum = 0;
    for (let j = 0; j < V - 1; j++) {
      cum += probs[order[j]];
      if (cum <= 1 - topP) scores[order[j]] = -Infinity;
    }
    return softmax(scores);
  }
  return probs;
}

function softmax(scores: Float64Array): Float64Array {
  let max = -Infinity;
  for (const s of scores) if (s > max) max = s;
  if (!(max > -Infinity)) throw new RangeError('sampling: every logit is -Infinity or NaN');
  const p = new Float64Array(scores.length);
  let sum = 0;
  for (let i = 0; i < scores.length; i++) {
    p[i] = Math.exp(scores[i] - max);
    sum += p[i];
  }
  for (let i = 0; i < p.length; i++) p[i] /= sum;
  return p;
}

/**
 * The next token. `previousIds` are the ids so far (prompt and generated) for the repetition penalty;
 * `rng` returns uniforms in [0, 1) and is called once when sampling, never when greedy.
 */
export function sampleNextToken(
  logits: Float32Array | Float64Array,
  previousIds: number[],
  opts: SamplingOptions,
  rng: () => number,
): number {
  validateSamplingOptions(opts);
  if (logits.length === 0) throw new RangeError('sampleNextToken: logits are empty');
  const temperature = opts.temperature ?? 1;
  if (!(opts.doSample ?? false) || temperature === 0) {
    return argmax(applyRepetitionPenalty(logits, previousIds, opts.repetitionPenalty ?? 1));
  }
  const probs = samplingDistribution(logits, previousIds, opts);
  const u = rng();
  let cum = 0;
  let last = -1;
  for (let i = 0; i < probs.length; i++) {
    if (probs[i] === 0) continue;
    cum += probs[i];
    last = i;
    if (u < cum) return i;
  }
  return last; // u at the very top of the cumulative sum, beyond its rounding
}

/** The sampling settings of a model's generation_config.json (do_sample, temperature, top_k, top_p, repetition_penalty, max_new_tokens). */
export interface GenerationDefaults extends SamplingOptions {
  maxNewTokens?: number;
}

/**
 * Reads the sampling fields of a generation_config.json, as transformers' GenerationConfig names them. Fields that
 * are absent or of the wrong type are left out (callers fall back to their own defaults); values out of range
 * throw a RangeError naming the field.
 */
export function generationDefaults(generationConfig: Record<string, unknown> | null): GenerationDefaults {
  const out: GenerationDefaults = {};
  if (!generationConfig) return out;
  const num = (key: string): number | undefined => (typeof generationConfig[key] === 'number' ? (generationConfig[key] as number) : undefined);
  if (typeof generationConfig.do_sample === 'boolean') out.doSample = generationConfig.do_sample;
  out.temperature = num('temperature');
  out.topK = num('top_k');
  out.topP = num('top_p');
  out.repetitionPenalty = num('repetition_penalty');
  out.maxNewTokens = num('max_new_tokens');
  for (const k of Object.keys(out) as (keyof GenerationDefaults)[]) if (out[k] === undefined) delete out[k];
  try {
    validateSamplingOptions(out);
  } catch (e) {
    throw new RangeError(`generation_config.json: ${(e as Error).message}`);
  }
  if (out.maxNewTokens !== undefined && !(Number.isInteger(out.maxNewTokens) && out.maxNewTokens >= 0)) {
    throw new RangeError(`generation_config.json: max_new_tokens must be an integer ≥ 0, got ${out.maxNewTokens}`);
  }
  return out;
}
