/** The page's localStorage, or null where there is none or it is refused (private modes, sandboxed frames, Node). */
export function localStore(): Storage | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage;
  } catch {
    return null;
  }
}
