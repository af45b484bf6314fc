/**
 * Reads a Dockerfile into the steps the replay runs, with dockerfile-ast doing the Dockerfile grammar
 * (continuations, comments, the escape directive, flags). Only what the replay can run faithfully is
 * accepted: any other instruction, flag or variable expansion is an error naming its line, never skipped.
 */
import { DockerfileParser, type Flag, type Instruction } from "dockerfile-ast";

export class ReplayError extends Error {}

/** Exec form (a JSON array, run as is) or shell form (run with `sh -c`), as Docker decides between them. */
export type Command = { form: "exec"; argv: string[] } | { form: "shell"; script: string };

export type Step =
  | { kind: "workdir"; line: number; path: string }
  | { kind: "env"; line: number; vars: [string, string][] }
  | { kind: "copy"; line: number; from: string | null; chown: string | null; sources: string[]; dest: string }
  | { kind: "run"; line: number; command: Command; cacheTargets: string[] }
  | { kind: "user"; line: number; user: string };

export type Healthcheck = { line: number; command: Command; timeoutMs: number };

export type Stage = {
  index: number;
  name: string;
  line: number;
  /** The base image's Node version, e.g. "20.20.2" from node:20.20.2-bookworm-slim. */
  nodeVersion: string;
  steps: Step[];
  cmd: { line: number; command: Command } | null;
  healthcheck: Healthcheck | null;
};

/** Metadata with nothing to run: recorded by the image, not by the replay. */
const METADATA = new Set(["EXPOSE", "LABEL"]);

export function parseDockerfile(text: string): Stage[] {
  const dockerfile = DockerfileParser.parse(text);
  const stages: Stage[] = [];
  for (const instruction of dockerfile.getInstructions()) {
    const line = instruction.getRange().start.line + 1;
    const keyword = instruction.getKeyword();
    const fail = (why: string): never => {
      throw new ReplayError(`Dockerfile line ${line}: ${keyword} ${why}`);
    };
    if (keyword === "FROM") {
      stages.push(parseFrom(instruction, line, stages.length, fail));
      continue;
    }
    const stage = stages.at(-1);
    if (!stage) fail("before the first FROM: the replay does not support it");
    if (METADATA.has(keyword)) continue;
    const args = instruction.getArgumentsContent()?.trim() ?? "";
    switch (keyword) {
      case "WORKDIR":
        noFlags(instruction, fail);
        stage!.steps.push({ kind: "workdir", line, path: literal(args, fail) });
        break;
      case "ENV":
        stage!.steps.push({ kind: "env", line, vars: parseEnv(instruction, fail) });
        break;
      case "USER":
        stage!.steps.push({ kind: "user", line, user: literal(args, fail) });
        break;
      case "COPY":
        stage!.steps.push(parseCopy(instruction, args, line, fail));
        break;
      case "RUN":
        stage!.steps.push({ kind: "run", line, command: parseCommand(args, fail), cacheTargets: cacheTargets(instruction, fail) });
        break;
      case "CMD":
        noFlags(instruction, fail);
        stage!.cmd = { line, command: parseCommand(args, fail) };
        break;
      case "HEALTHCHECK":
        stage!.healthcheck = parseHealthcheck(instruction, args, line, fail);
        break;
      default:
        fail("is not an instruction this replay knows how to run: teach scripts/replay/plan.ts, or do without it");
    }
  }
  if (stages.length === 0) throw new ReplayError("Dockerfile: no FROM, so no stage to replay");
  return stages;
}

function parseFrom(instruction: Instruction, line: number, index: number, fail: (why: string) => never): Stage {
  noFlags(instruction, fail);
  const from = instruction as Instruction & { getImageName(): string | null; getImageTag(): string | null; getImageDigest(): string | null; getBuildStage(): string | null };
  const image = from.getImageName();
  const tag = from.getImageTag();
  // The replay runs every step on this machine's Node: only a Node base image can be stood in for.
  if (image !== "node" && image !== "library/node" && image !== "docker.io/library/node") fail(`${image}: the replay can only stand in for node images`);
  const version = /^(\d+\.\d+\.\d+)(?:-|$)/.exec(tag ?? "")?.[1];
  if (!version) fail(`node:${tag ?? ""}: pin the full Node version (e.g. node:20.20.2-bookworm-slim)`);
  return { index, name: from.getBuildStage() ?? String(index), line, nodeVersion: version!, steps: [], cmd: null, healthcheck: null };
}

function noFlags(instruction: Instruction, fail: (why: string) => never): void {
  const flags = flagsOf(instruction);
  if (flags.length > 0) fail(`--${flags[0]!.getName()}: a flag the replay does not support`);
}

function flagsOf(instruction: Instruction): Flag[] {
  const withFlags = instruction as Instruction & { getFlags?: () => Flag[] };
  return withFlags.getFlags ? withFlags.getFlags() : [];
}

/** A path or name as written: variable expansion is Docker's, and the replay does not imitate it. */
function literal(value: string, fail: (why: string) => never): string {
  if (value.includes("$")) fail(`${value}: variable expansion is not supported by the replay`);
  if (value === "") fail("needs an argument");
  return value;
}

function parseEnv(instruction: Instruction, fail: (why: string) => never): [string, string][] {
  const properties = (instruction as Instruction & { getProperties(): { getName(): string; getUnescapedValue(): string | null }[] }).getProperties();
  if (properties.length === 0) fail("needs NAME=value");
  return properties.map((p) => [p.getName(), literal(p.getUnescapedValue() ?? "", fail)]);
}

function parseCopy(instruction: Instruction, args: string, line: number, fail: (why: string) => never): Step {
  let from: string | null = null;
  let chown: string | null = null;
  for (const flag of flagsOf(instruction)) {
    const value = flag.getValue();
    if (flag.getName() === "from" && value) from = literal(value, fail);
    else if (flag.getName() === "chown" && value) chown = literal(value, fail);
    else fail(`--${flag.getName()}: a flag the replay does not support`);
  }
  const words = args.startsWith("[") ? parseJsonArray(args, fail) : args.split(/\s+/);
  if (words.length < 2) fail("needs a source and a destination");
  for (const word of words) {
    literal(word, fail);
    if (/[*?[]/.test(word)) fail(`${word}: wildcards are not supported by the replay`);
  }
  return { kind: "copy", line, from, chown, sources: words.slice(0, -1), dest: words.at(-1)! };
}

/** RUN accepts `--mount=type=cache,target=...` only: a build cache, which the replay maps to the machine's. */
function cacheTargets(instruction: Instruction, fail: (why: string) => never): string[] {
  const targets: string[] = [];
  for (const flag of flagsOf(instruction)) {
    if (flag.getName() !== "mount") fail(`--${flag.getName()}: a flag the replay does not support`);
    const options = new Map(flag.getOptions().map((o) => [o.getName(), o.getValue()]));
    const target = options.get("target") ?? options.get("dst") ?? options.get("destination");
    if (options.get("type") !== "cache" || !target) fail(`--mount=${flag.getValue() ?? ""}: only type=cache mounts are supported`);
    for (const name of options.keys()) {
      if (!["type", "target", "dst", "destination", "id", "sharing"].includes(name)) fail(`--mount option ${name} is not supported`);
    }
    targets.push(target!);
  }
  return targets;
}

/** Docker's rule: a valid JSON array of strings is the exec form; anything else is a shell command. */
export function parseCommand(args: string, fail: (why: string) => never): Command {
  if (args === "") fail("needs a command");
  if (args.startsWith("[")) {
    try {
      const argv: unknown = JSON.parse(args);
      if (Array.isArray(argv) && argv.length > 0 && argv.every((a) => typeof a === "string")) return { form: "exec", argv };
    } catch {
      // not JSON: the shell form, as Docker reads it
    }
  }
  if (/<<-?\s*["']?\w+/.test(args.split("\n")[0]!)) fail("here-documents are not supported by the replay");
  return { form: "shell", script: args };
}

function parseJsonArray(args: string, fail: (why: string) => never): string[] {
  const command = parseCommand(args, fail);
  if (command.form !== "exec") fail(`${args}: not a JSON array of strings`);
  return (command as { argv: string[] }).argv;
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;

function parseHealthcheck(instruction: Instruction, args: string, line: number, fail: (why: string) => never): Healthcheck {
  let timeoutMs = 30_000; // Docker's default
  for (const flag of flagsOf(instruction)) {
    const name = flag.getName();
    if (!["interval", "timeout", "start-period", "start-interval", "retries"].includes(name)) fail(`--${name}: a flag the replay does not support`);
    if (name === "timeout") {
      const match = DURATION.exec(flag.getValue() ?? "");
      if (!match) fail(`--timeout=${flag.getValue() ?? ""}: not a duration`);
      timeoutMs = Number(match![1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match![2] as "ms"];
    }
  }
  const subcommand = /^(\S+)\s*([\s\S]*)$/.exec(args);
  if (subcommand?.[1]?.toUpperCase() !== "CMD") fail(`${subcommand?.[1] ?? ""}: expected HEALTHCHECK CMD ... (NONE leaves nothing to check)`);
  return { line, command: parseCommand(subcommand![2]!.trim(), fail), timeoutMs };
}
