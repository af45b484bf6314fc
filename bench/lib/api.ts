/** A minimal tRPC-over-HTTP caller for load generation (plain JSON, as any client would send). */
export function api(baseUrl: string, headers: Record<string, string> = {}) {
  async function call<T>(method: "GET" | "POST", path: string, input: unknown, extra: Record<string, string> = {}): Promise<T> {
    const url = new URL(`/trpc/${path}`, baseUrl);
    if (method === "GET" && input !== undefined) url.searchParams.set("input", JSON.stringify(input));
    const res = await fetch(url, {
      method,
      headers: { "content-type": "application/json", ...headers, ...extra },
      body: method === "POST" ? JSON.stringify(input ?? null) : undefined,
    });
    const body = (await res.json()) as { result?: { data: T }; error?: { message: string } };
    if (!res.ok || !body.result) throw new Error(`${path}: ${res.status} ${body.error?.message ?? ""}`);
    return body.result.data;
  }
  return {
    query: <T>(path: string, input?: unknown, extra?: Record<string, string>) => call<T>("GET", path, input, extra),
    mutate: <T>(path: string, input?: unknown, extra?: Record<string, string>) => call<T>("POST", path, input, extra),
  };
}

export type Session = { token: string; user: { id: string; email: string } };

export async function signUp(baseUrl: string, tag: string): Promise<Session> {
  return api(baseUrl).mutate<Session>("auth.signUp", {
    email: `${tag}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}@bench.aiutami.test`,
    password: "bench-passphrase-123",
    firstName: "Bench",
    lastName: tag,
    phone: "+39 02 0000 0000",
  });
}
