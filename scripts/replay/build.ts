/**
 * Runs one stage's steps on this machine: an empty directory stands for the stage's filesystem root (an
 * image path /app is <root>/app), COPY copies from the build context (filtered by .dockerignore, as Docker
 * filters it) or from an earlier stage's root, ENV sets the environment, RUN runs in the WORKDIR's folder.
 * RUN and CMD cannot be remapped, so they must not name the WORKDIR's absolute path: checkImagePaths refuses them.
 */
import ignore from "@balena/dockerignore";
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, copyFileSync, cpSync, existsSync, lchownSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync } from "node:fs";
import { homedir } from "node:os";
import { basename, dirname, join, posix, relative } from "node:path";
import { type Command, ReplayError, type Stage, type Step } from "./plan";
import type { RunAs } from "./user";

export type BuiltStage = {
  stage: Stage;
  /** The folder standing for the stage's "/". */
  root: string;
  /** The WORKDIR at the end of the stage, as an image path. */
  workdir: string;
  env: Record<string, string>;
  /** The last USER of the stage (null: root). */
  user: string | null;
};

export type BuildOptions = {
  context: string;
  stageRoot: string;
  earlier: BuiltStage[];
  /** The environment every step starts from, standing for the base image's (PATH, HOME, TMPDIR). */
  baseEnv: Record<string, string>;
  runAs: (user: string) => RunAs;
  log: (line: string) => void;
  runTimeoutMs: number;
};

export async function buildStage(stage: Stage, opts: BuildOptions): Promise<BuiltStage> {
  const built: BuiltStage = { stage, root: opts.stageRoot, workdir: "/", env: {}, user: null };
  mkdirSync(opts.stageRoot, { recursive: true });
  const ignored = dockerignore(opts.context);
  for (const step of stage.steps) {
    const where = `stage ${stage.name}, Dockerfile line ${step.line}`;
    switch (step.kind) {
      case "workdir":
        built.workdir = posix.resolve(built.workdir, step.path);
        mkdirSync(hostPath(built, built.workdir), { recursive: true });
        break;
      case "env":
        for (const [name, value] of step.vars) built.env[name] = value;
        break;
      case "user":
        built.user = step.user;
        break;
      case "copy":
        copy(step, built, opts, ignored, where);
        break;
      case "run": {
        opts.log(`${where}: RUN ${describe(step.command)}`);
        const started = Date.now();
        const as = built.user ? opts.runAs(built.user) : null;
        const env = { ...opts.baseEnv, ...(as ? { HOME: as.home } : {}), ...built.env };
        // A cache mount keeps npm's cache out of the image; here it is the machine's own cache (HOME).
        if (step.cacheTargets.length > 0 && !as) env.HOME = homedir();
        const code = await runCommand(step.command, { cwd: hostPath(built, built.workdir), env, as, timeoutMs: opts.runTimeoutMs, stdio: "inherit" });
        if (code !== 0) throw new ReplayError(`${where}: RUN ${describe(step.command)} failed (${code})`);
        opts.log(`${where}: RUN done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
        break;
      }
    }
  }
  return built;
}

/** An image path inside a built stage, on this machine. */
export function hostPath(built: BuiltStage, imagePath: string): string {
  return join(built.root, posix.resolve(built.workdir, imagePath));
}

type Ignored = { ignores: (rel: string) => boolean; mayHoldExceptions: (dir: string) => boolean };

function dockerignore(context: string): Ignored {
  const file = join(context, ".dockerignore");
  const text = existsSync(file) ? readFileSync(file, "utf8") : "";
  const matcher = ignore().add(text);
  const exceptions = text.split("\n").map((l) => l.trim()).filter((l) => l.startsWith("!")).map((l) => l.slice(1).replace(/^\/+/, ""));
  return {
    ignores: (rel) => rel !== "" && rel !== "." && matcher.ignores(rel),
    // An ignored folder is walked only when an exception (!pattern) could re-include something in it.
    mayHoldExceptions: (dir) => exceptions.some((e) => /[*?[]/.test(e) || e.startsWith(`${dir}/`)),
  };
}

/**
 * The files of a context path that .dockerignore lets through, as Docker sends them: an ignored entry is
 * left out, and a folder is created only when it is not ignored itself or holds a file that is not.
 */
function contextEntries(context: string, rel: string, ignored: Ignored): string[] {
  const path = join(context, rel);
  const stat = lstatSync(path);
  if (!stat.isDirectory()) return ignored.ignores(rel) ? [] : [rel];
  const skip = ignored.ignores(rel);
  if (skip && !ignored.mayHoldExceptions(rel)) return [];
  const inside = readdirSync(path).flatMap((name) => contextEntries(context, rel === "." ? name : `${rel}/${name}`, ignored));
  return skip ? inside : [rel, ...inside];
}

function copy(step: Extract<Step, { kind: "copy" }>, built: BuiltStage, opts: BuildOptions, ignored: Ignored, where: string): void {
  const source = step.from === null ? null : opts.earlier.find((s) => s.stage.name === step.from);
  if (step.from !== null && !source) throw new ReplayError(`${where}: COPY --from=${step.from}: no earlier stage of that name`);
  const dest = join(built.root, posix.resolve(built.workdir, step.dest));
  const intoDir = step.dest.endsWith("/") || step.sources.length > 1 || (existsSync(dest) && statSync(dest).isDirectory());
  const owner = step.chown ? opts.runAs(step.chown) : null;
  const copied: string[] = [];
  for (const src of step.sources) {
    if (source) {
      // --from sources are paths in that stage's filesystem, relative ones from its "/"; no .dockerignore.
      const from = join(source.root, posix.resolve("/", src));
      if (!existsSync(from)) throw new ReplayError(`${where}: COPY --from=${step.from} ${src}: not found in stage ${step.from} (did its RUN steps make it?)`);
      const target = lstatSync(from).isDirectory() || !intoDir ? dest : join(dest, basename(from));
      mkdirSync(dirname(target), { recursive: true });
      cpSync(from, target, { recursive: true, verbatimSymlinks: true, filter: (_path, to) => copied.push(to) > 0 });
      continue;
    }
    const rel = posix.normalize(src).replace(/^\/+/, "").replace(/\/+$/, "") || ".";
    if (rel === ".." || rel.startsWith("../")) throw new ReplayError(`${where}: COPY ${src}: outside the build context`);
    if (!existsSync(join(opts.context, rel))) throw new ReplayError(`${where}: COPY ${src}: not found in the build context`);
    const entries = contextEntries(opts.context, rel, ignored);
    if (entries.length === 0) throw new ReplayError(`${where}: COPY ${src}: excluded by .dockerignore`);
    const isDir = lstatSync(join(opts.context, rel)).isDirectory();
    const target = isDir || !intoDir ? dest : join(dest, basename(rel));
    // A folder's contents go into the destination, not the folder itself (Docker's COPY dir dest).
    for (const entry of entries) {
      const from = join(opts.context, entry);
      const to = isDir ? join(target, relative(rel, entry)) : target;
      const stat = lstatSync(from);
      if (stat.isDirectory()) {
        mkdirSync(to, { recursive: true });
        chmodSync(to, stat.mode & 0o7777);
      } else {
        mkdirSync(dirname(to), { recursive: true });
        rmSync(to, { force: true });
        if (stat.isSymbolicLink()) symlinkSync(readlinkSync(from), to);
        else copyFileSync(from, to); // keeps the file's mode, as Docker does
      }
      copied.push(to);
    }
  }
  if (owner && owner.uid !== process.getuid?.()) for (const path of new Set(copied)) lchownSync(path, owner.uid, owner.gid);
  opts.log(`${where}: COPY ${step.from ? `--from=${step.from} ` : ""}${step.chown ? `--chown=${step.chown} ` : ""}${step.sources.join(" ")} ${step.dest}`);
}

/** Before anything runs: no RUN, CMD or HEALTHCHECK of any stage names its stage's absolute WORKDIR. */
export function checkImagePaths(stages: Stage[], extra: Command[]): void {
  for (const stage of stages) {
    let workdir = "/";
    for (const step of stage.steps) {
      if (step.kind === "workdir") workdir = posix.resolve(workdir, step.path);
      if (step.kind === "run") refuseImagePaths(step.command, workdir, `stage ${stage.name}, Dockerfile line ${step.line}: RUN`);
    }
    if (stage.cmd) refuseImagePaths(stage.cmd.command, workdir, `stage ${stage.name}, Dockerfile line ${stage.cmd.line}: CMD`);
    if (stage.healthcheck) refuseImagePaths(stage.healthcheck.command, workdir, `stage ${stage.name}, Dockerfile line ${stage.healthcheck.line}: HEALTHCHECK`);
    if (stage === stages.at(-1)) for (const command of extra) refuseImagePaths(command, workdir, "docker-compose.yml seed command");
  }
}

/** The image's absolute WORKDIR path in a command would point outside the replay's folders. */
function refuseImagePaths(command: Command, workdir: string, where: string): void {
  if (workdir === "/") return;
  const text = command.form === "exec" ? command.argv.join(" ") : command.script;
  const pattern = new RegExp(`(^|[\\s'"=:])${workdir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(?=$|[/\\s'"])`);
  if (pattern.test(text)) throw new ReplayError(`${where}: the command names ${workdir}, the image's WORKDIR: use a path relative to it, so the replay runs what the image runs`);
}

export function describe(command: Command): string {
  const text = command.form === "exec" ? JSON.stringify(command.argv) : command.script;
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

export type RunOptions = {
  cwd: string;
  env: Record<string, string>;
  as: RunAs | null;
  timeoutMs: number;
  stdio: "inherit" | "ignore" | ["ignore", number, number];
};

/** Process groups still running, killed on clean-up and on Ctrl-C (a detached group misses the terminal's). */
export const running = new Set<ChildProcess>();

/**
 * Starts a command as Docker would (exec form as is, shell form with `sh -c`) in a process group of its
 * own, which stands for the container: whatever it leaves behind dies with it (killGroup).
 */
export function startCommand(command: Command, opts: Omit<RunOptions, "timeoutMs">): ChildProcess {
  const [file, ...args] = command.form === "exec" ? command.argv : ["sh", "-c", command.script];
  const child = spawn(file!, args, {
    cwd: opts.cwd,
    env: opts.env,
    stdio: opts.stdio === "inherit" ? ["ignore", "inherit", "inherit"] : opts.stdio,
    detached: true,
    ...(opts.as && opts.as.uid !== process.getuid?.() ? { uid: opts.as.uid, gid: opts.as.gid } : {}),
  });
  running.add(child);
  return child;
}

export function killGroup(child: ChildProcess): void {
  try {
    if (child.pid) process.kill(-child.pid, "SIGKILL");
  } catch {
    // ESRCH: nothing of the group is left
  }
  running.delete(child);
}

/** Runs a command to its end; resolves to its exit status, with anything it left running killed. */
export function runCommand(command: Command, opts: RunOptions): Promise<number | string> {
  const child = startCommand(command, opts);
  return new Promise((resolve) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child);
    }, opts.timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      killGroup(child);
      resolve(err.message);
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      killGroup(child);
      resolve(timedOut ? `no exit within ${opts.timeoutMs} ms` : (code ?? `killed by ${signal}`));
    });
  });
}
