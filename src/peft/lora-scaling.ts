/**
 * LoRA's output scaling, as PEFT computes it (tuners/lora/layer.py, update_layer):
 * scaling = lora_alpha / r, or lora_alpha / sqrt(r) when use_rslora is set (Kalajdzievski 2023).
 */
export function loraScaling(loraAlpha: number, r: number, useRslora = false): number {
  if (!Number.isInteger(r) || r <= 0) throw new RangeError(`LoRA rank r must be a positive integer, got ${r}`);
  if (!Number.isFinite(loraAlpha)) throw new RangeError(`lora_alpha must be a finite number, got ${loraAlpha}`);
  return useRslora ? loraAlpha / Math.sqrt(r) : loraAlpha / r;
}
