/**
 * Runs one stage's steps on this machine: an empty directory stands for the stage's filesystem root (an
 * image path /app is <root>/app), COPY copies from the build context (filtered by .dockerignore, as Docker
 * filters it) or from an earlier stage's root, ENV sets the environment, RUN runs in the WORKDIR's folder.
 * RUN and CMD cannot be remapped, so they must not name the image's absolute paths: the replay refuses them.
 */
import ignore from "@balena/dockerignore";
import { spawn } from "node:child_process";
import { cpSync, existsSync, lchownSync, lstatSync, mkdirSync, readFileSync, statSync } from "node:fs";
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
        refuseImagePaths(step.command, built.workdir, where);
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

function dockerignore(context: string) {
  const file = join(context, ".dockerignore");
  const text = existsSync(file) ? readFileSync(file, "utf8") : "";
  const matcher = ignore().add(text);
  // Without exceptions (!pattern), an ignored folder holds nothing to copy: skip walking it.
  const prunable = !text.split("\n").some((l) => l.trim().startsWith("!"));
  return { ignores: (rel: string) => rel !== "" && matcher.ignores(rel), prunable };
}

function copy(step: Extract<Step, { kind: "copy" }>, built: BuiltStage, opts: BuildOptions, ignored: ReturnType<typeof dockerignore>, where: string): void {
  const source = step.from === null ? null : opts.earlier.find((s) => s.stage.name === step.from);
  if (step.from !== null && !source) throw new ReplayError(`${where}: COPY --from=${step.from}: no earlier stage of that name`);
  const destImage = posix.resolve(built.workdir, step.dest);
  const dest = join(built.root, destImage);
  const intoDir = step.dest.endsWith("/") || step.sources.length > 1 || (existsSync(dest) && statSync(dest).isDirectory());
  const owner = step.chown ? opts.runAs(step.chown) : null;
  for (const src of step.sources) {
    let from: string;
    let filter: ((path: string) => boolean) | undefined;
    if (source) {
      // --from sources are paths in that stage's filesystem, relative ones from its "/".
      from = join(source.root, posix.resolve("/", src));
      if (!existsSync(from)) throw new ReplayError(`${where}: COPY --from=${step.from} ${src}: not found in stage ${step.from} (did its RUN steps make it?)`);
    } else {
      const rel = posix.normalize(src).replace(/^\/+/, "").replace(/\/+$/, "");
      if (rel === ".." || rel.startsWith("../")) throw new ReplayError(`${where}: COPY ${src}: outside the build context`);
      from = join(opts.context, rel);
      if (rel !== "." && ignored.ignores(rel)) throw new ReplayError(`${where}: COPY ${src}: excluded by .dockerignore`);
      if (!existsSync(from)) throw new ReplayError(`${where}: COPY ${src}: not found in the build context`);
      filter = (path) => {
        const r = relative(opts.context, path).split("\\").join("/");
        if (!ignored.ignores(r)) return true;
        // A folder that is ignored may still hold excepted files, unless there are no exceptions at all.
        return !ignored.prunable && lstatSync(path).isDirectory();
      };
    }
    const isDir = lstatSync(from).isDirectory();
    const target = isDir || !intoDir ? dest : join(dest, basename(from));
    mkdirSync(isDir ? target : dirname(target), { recursive: true });
    const copied: string[] = [target];
    cpSync(from, target, {
      recursive: true,
      verbatimSymlinks: true,
      filter: (path, to) => {
        const keep = filter ? filter(path) : true;
        if (keep) copied.push(to);
        return keep;
      },
    });
    if (owner && owner.uid !== process.getuid?.()) for (const path of copied) if (existsSync(path)) lchownSync(path, owner.uid, owner.gid);
  }
  opts.log(`${where}: COPY ${step.from ? `--from=${step.from} ` : ""}${step.chown ? `--chown=${step.chown} ` : ""}${step.sources.join(" ")} ${step.dest}`);
}

/** The image's absolute WORKDIR path in a command would point outside the replay's folders. */
export function refuseImagePaths(command: Command, workdir: string, where: string): void {
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

/** Runs a command as Docker would (exec form as is, shell form with `sh -c`); resolves to its exit status. */
export function runCommand(command: Command, opts: RunOptions): Promise<number | string> {
  const [file, ...args] = command.form === "exec" ? command.argv : ["sh", "-c", command.script];
  const child = spawn(file!, args, {
    cwd: opts.cwd,
    env: opts.env,
    stdio: opts.stdio === "inherit" ? ["ignore", "inherit", "inherit"] : opts.stdio,
    ...(opts.as && opts.as.uid !== process.getuid?.() ? { uid: opts.as.uid, gid: opts.as.gid } : {}),
  });
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      resolve(err.message);
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      resolve(code ?? `killed by ${signal}${signal === "SIGKILL" ? ` (timeout ${opts.timeoutMs} ms?)` : ""}`);
    });
  });
}
