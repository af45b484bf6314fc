/**
 * Who runs the image's USER steps here. When the image's user (e.g. `node`) exists on this machine, it
 * does. Otherwise, when the replay runs as root, `nobody` stands in: like `node` in the image, a
 * non-root user that owns none of the copied files, so a server that needs to write where the image
 * does not let it fails here too. Run by a non-root user, the replay can only run everything as that
 * user, and says so.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, chownSync } from "node:fs";
import { join } from "node:path";

export type RunAs = { uid: number; gid: number; name: string; home: string; note: string | null };

function lookUp(name: string): { uid: number; gid: number } | null {
  try {
    const entry = execFileSync("getent", ["passwd", name], { encoding: "utf8" }).trim().split(":");
    return { uid: Number(entry[2]), gid: Number(entry[3]) };
  } catch {
    return null;
  }
}

/** Resolves an image user ("node", "node:node", "1000") to one of this machine, once per name. */
export function standInUsers(tmp: string): (imageUser: string) => RunAs {
  const cache = new Map<string, RunAs>();
  return (imageUser) => {
    const name = imageUser.split(":")[0]!;
    const known = cache.get(name);
    if (known) return known;
    const self = process.getuid?.() ?? 0;
    let resolved: RunAs;
    const home = join(tmp, `home-${name}`);
    if (name === "root" || name === "0") {
      resolved = { uid: 0, gid: 0, name: "root", home, note: self === 0 ? null : "the image runs this as root; the replay cannot" };
    } else {
      const exists = lookUp(name);
      const nobody = lookUp("nobody");
      if (exists && self === 0) resolved = { ...exists, name, home, note: null };
      else if (self === 0 && nobody) resolved = { ...nobody, name: "nobody", home, note: `no user ${name} on this machine: nobody stands in (non-root, owns none of the copied files)` };
      else resolved = { uid: self, gid: process.getgid?.() ?? self, name: "the replay's own user", home, note: `not root: everything runs as the replay's own user (uid ${self}), not as ${name}` };
    }
    // The image's user has a home of its own (npm writes its logs there).
    mkdirSync(home, { recursive: true, mode: 0o755 });
    if (self === 0) chownSync(home, resolved.uid, resolved.gid);
    cache.set(name, resolved);
    return resolved;
  };
}
