import { parse, serialize } from "cookie";

export const SESSION_COOKIE = "aiutami_session";

export function readSessionCookie(header: string | undefined): string | undefined {
  if (!header) return undefined;
  return parse(header)[SESSION_COOKIE];
}

/** HttpOnly so scripts cannot read it; SameSite=Lax so other sites' forms do not carry it. */
export function sessionCookie(token: string, opts: { maxAgeMs: number; secure: boolean }): string {
  return serialize(SESSION_COOKIE, token, {
    httpOnly: true,
    sameSite: "lax",
    secure: opts.secure,
    path: "/",
    maxAge: Math.floor(opts.maxAgeMs / 1000),
  });
}

export function clearedSessionCookie(secure: boolean): string {
  return serialize(SESSION_COOKIE, "", { httpOnly: true, sameSite: "lax", secure, path: "/", maxAge: 0 });
}
