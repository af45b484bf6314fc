/**
 * Where the SDK keeps the session token and the inbox's resume point. Pluggable: pass your own
 * (an encrypted store, React Native's AsyncStorage wrapped to be synchronous in memory, …).
 */
export type TokenStorage = {
  get(key: string): string | null;
  set(key: string, value: string): void;
  remove(key: string): void;
};

/**
 * Keeps everything in memory: gone when the process or page ends. The default outside browsers.
 * @example createAiutamiClient({ baseUrl, storage: memoryStorage() })
 */
export function memoryStorage(): TokenStorage {
  const map = new Map<string, string>();
  return {
    get: (key) => map.get(key) ?? null,
    set: (key, value) => void map.set(key, value),
    remove: (key) => void map.delete(key),
  };
}

/**
 * The browser's localStorage, so a reload keeps the session and resumes the inbox. The default in
 * browsers. Returns null where localStorage is missing or blocked.
 * @example createAiutamiClient({ baseUrl, storage: browserStorage() ?? memoryStorage() })
 */
export function browserStorage(): TokenStorage | null {
  try {
    const ls = (globalThis as { localStorage?: { getItem(k: string): string | null; setItem(k: string, v: string): void; removeItem(k: string): void } }).localStorage;
    if (!ls) return null;
    const probe = "aiutami:probe";
    ls.setItem(probe, "1");
    ls.removeItem(probe);
    return { get: (k) => ls.getItem(k), set: (k, v) => ls.setItem(k, v), remove: (k) => ls.removeItem(k) };
  } catch {
    return null;
  }
}
