/** The Hub push store keeps the token in memory, and in localStorage only while "remember" is on. */
import { describe, expect, it, vi } from 'vitest';

class MemoryStorage {
  readonly items = new Map<string, string>();
  getItem(k: string) {
    return this.items.get(k) ?? null;
  }
  setItem(k: string, v: string) {
    this.items.set(k, v);
  }
  removeItem(k: string) {
    this.items.delete(k);
  }
}

describe('the Hub push token', () => {
  it('stays in memory unless remembered, and is forgotten when remember is turned off', async () => {
    const storage = new MemoryStorage();
    vi.stubGlobal('localStorage', storage);
    vi.resetModules();
    const { useHubPush, TOKEN_KEY } = await import('../src/ui/stores/hub-push');
    const s = () => useHubPush.getState();
    expect(s().token).toBe('');
    s().set({ token: 'hf_a' });
    expect(storage.items.has(TOKEN_KEY)).toBe(false);
    s().setRemember(true);
    expect(storage.getItem(TOKEN_KEY)).toBe('hf_a');
    s().set({ token: 'hf_b' });
    expect(storage.getItem(TOKEN_KEY)).toBe('hf_b');
    s().setRemember(false);
    expect(storage.items.has(TOKEN_KEY)).toBe(false);
    expect(s().token).toBe('hf_b');

    // A page opened later starts with a remembered token, and with remember on.
    storage.setItem(TOKEN_KEY, 'hf_c');
    vi.resetModules();
    const again = (await import('../src/ui/stores/hub-push')).useHubPush.getState();
    expect([again.token, again.remember]).toEqual(['hf_c', true]);
    vi.unstubAllGlobals();
  });
});
