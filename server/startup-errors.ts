/**
 * Start-up failures a person can fix, each said in one line that names the variable or the cause and
 * what to do. Anything not recognised here is a bug, and main.ts prints it whole.
 */
export class StartupError extends Error {
  override name = "StartupError";
}

type ErrnoLike = { code?: unknown; errno?: unknown; port?: unknown; address?: unknown; message?: unknown };

function codeOf(err: unknown): string | undefined {
  const code = (err as ErrnoLike | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** The listener's own errors: `server.listen` on a taken or privileged port. */
export function explainListenFailure(err: unknown, port: number, host: string): StartupError | null {
  switch (codeOf(err)) {
    case "EADDRINUSE":
      return new StartupError(`Port ${port} is already in use on ${host} (PORT=${port}): stop the process listening there, or start with another port, e.g. PORT=${port + 1} npm start.`);
    case "EACCES":
      return new StartupError(`Port ${port} needs privileges this process does not have (PORT=${port}): use a port above 1023.`);
    case "EADDRNOTAVAIL":
      return new StartupError(`HOST=${host} is not an address of this machine: use 0.0.0.0, 127.0.0.1 or one of its own addresses.`);
    default:
      return null;
  }
}

/**
 * A PostgreSQL connection that failed at start. `variable` is the one that holds the URL
 * (DATABASE_URL for the owner, who migrates; DATABASE_APP_URL, or DATABASE_URL where the server's own
 * role is derived from it).
 */
export function explainDatabaseFailure(err: unknown, url: string, variable: string, role: "owner" | "app" = "owner"): StartupError | null {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return null;
  }
  const host = target.hostname || "localhost";
  const port = target.port || "5432";
  const user = decodeURIComponent(target.username) || "postgres";
  const database = decodeURIComponent(target.pathname.slice(1)) || user;
  const where = `${host}:${port}`;
  switch (codeOf(err)) {
    case "ECONNREFUSED":
    case "ENOTFOUND":
    case "EAI_AGAIN":
    case "EHOSTUNREACH":
    case "ETIMEDOUT":
    case "CONNECT_TIMEOUT":
      return new StartupError(`PostgreSQL does not answer at ${where} (${variable}): start it (e.g. \`pg_ctlcluster 15 main start\` or \`docker compose up -d postgres\`), or fix ${variable}; unset DATABASE_URL to use the embedded database.`);
    case "3D000":
      return new StartupError(`The database "${database}" does not exist on ${where} (${variable}), and role "${user}" may not create it: create it with \`createdb -h ${host} -p ${port} -U postgres ${database}\`, or grant the role CREATEDB.`);
    case "28P01":
      return role === "owner"
        ? new StartupError(`PostgreSQL at ${where} refused the password of role "${user}" (${variable}): fix the password in ${variable}.`)
        : new StartupError(`PostgreSQL at ${where} refused the password of the server's role "${user}" (${variable}): set DATABASE_APP_PASSWORD (each start sets it on the role) or DATABASE_APP_URL.`);
    case "28000":
      return new StartupError(`PostgreSQL at ${where} refused role "${user}" (${variable}): the role does not exist or pg_hba.conf does not let it in; create it (\`createuser -h ${host} -p ${port} -U postgres --createrole ${user}\`) or fix ${variable}.`);
    case "42501":
      return new StartupError(`Role "${user}" on ${where} lacks a privilege the migrations need (${variable}): the owner role must be able to create roles and extensions (e.g. the postgres superuser). ${String((err as ErrnoLike).message ?? "")}`);
    default:
      return null;
  }
}
