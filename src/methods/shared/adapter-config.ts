/** The adapter_config.json object of a method's config, from the very text its export writes. */

/**
 * Parses the JSON text an export writes into adapter_config.json. Reading the text back (rather than building a
 * second object) keeps one builder per method, so the recipe's config cannot drift from the exported file.
 */
export function adapterConfigObject(json: string): Record<string, unknown> {
  return JSON.parse(json) as Record<string, unknown>;
}
