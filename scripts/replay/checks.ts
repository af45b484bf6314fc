/** What the run stage must hold, checked on its files: the project's patches applied, no dev dependency. */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { ReplayError } from "./plan";

/** Every patches/*.patch of the project reverses cleanly in the stage's folder, so it is applied there. */
export function checkPatchesApplied(patchesDir: string, appDir: string, stageName: string): string[] {
  if (!existsSync(patchesDir)) return [];
  const patches = readdirSync(patchesDir).filter((f) => f.endsWith(".patch"));
  for (const patch of patches) {
    const file = join(patchesDir, patch);
    // GIT_CEILING_DIRECTORIES: git apply must act on these files, not on a repository around the temp folder.
    const result = spawnSync("git", ["apply", "--check", "--reverse", file], {
      cwd: appDir,
      encoding: "utf8",
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", GIT_CEILING_DIRECTORIES: dirname(appDir) },
    });
    if (result.status !== 0) {
      const files = [...readFileSync(file, "utf8").matchAll(/^\+\+\+ b\/(.+)$/gm)].map((m) => m[1]);
      throw new ReplayError(
        `stage ${stageName}: patches/${patch} is not applied (${files.join(", ")}): the Dockerfile must COPY patches/ and run patch-package after npm ci. git apply said: ${(result.stderr || result.error?.message || "").trim().split("\n")[0]}`,
      );
    }
  }
  return patches;
}

/** No package that the lock file marks dev-only is installed in the stage (vitest, eslint, tsup...). */
export function checkNoDevDependencies(appDir: string, stageName: string): number {
  const lockFile = join(appDir, "package-lock.json");
  if (!existsSync(lockFile)) throw new ReplayError(`stage ${stageName}: no package-lock.json in its WORKDIR`);
  const lock = JSON.parse(readFileSync(lockFile, "utf8")) as { packages: Record<string, { dev?: boolean }> };
  const devOnly = Object.entries(lock.packages).filter(([path, entry]) => entry.dev === true && path.includes("node_modules/"));
  const present = devOnly.filter(([path]) => existsSync(join(appDir, path))).map(([path]) => path);
  if (present.length > 0) {
    throw new ReplayError(`stage ${stageName}: ${present.length} dev-only packages are installed, e.g. ${present.slice(0, 5).join(", ")}: its npm ci needs --omit=dev`);
  }
  if (!devOnly.some(([path]) => path === "node_modules/vitest")) throw new ReplayError("package-lock.json does not mark vitest dev-only: the check above proves nothing");
  return devOnly.length;
}
