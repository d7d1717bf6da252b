/** The URL of a file the studio serves from public/, under Vite's base URL. */
export function publicUrl(path: string): string {
  return new URL(`${import.meta.env.BASE_URL}${path}`, globalThis.location.href).href;
}
