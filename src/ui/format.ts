/** Display helpers. */

export function yesNo(value: boolean): 'yes' | 'no' {
  return value ? 'yes' : 'no';
}

/** 1073741824 → "1 GiB", 32768 → "32 KiB"; exact byte count when it is not a whole number of units. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const text = Number.isInteger(value) ? String(value) : value.toFixed(1);
  return `${text} ${units[unit]}`;
}

export function formatError(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  return value === 0 ? '0' : value.toExponential(2);
}

/** A short description of an adapter from its facts: "LoRA (r 8, lora_alpha 16, modules adapted 8)". */
export function adapterSummary(a: { label: string; facts: readonly (readonly [string, string])[] }, keys?: readonly string[]): string {
  const facts = keys ? a.facts.filter(([k]) => keys.includes(k)) : a.facts;
  return facts.length > 0 ? `${a.label} (${facts.map(([k, v]) => `${k} ${v}`).join(', ')})` : a.label;
}
