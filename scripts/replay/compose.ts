/** What the replay takes from docker-compose.yml: the seed command, and that every image is pinned. */
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { ReplayError } from "./plan";

type Service = { image?: string; build?: string | { context?: string }; profiles?: string[]; command?: unknown };

export function readCompose(file: string): { seedCommand: string[] } {
  const compose = parse(readFileSync(file, "utf8")) as { services?: Record<string, Service> };
  const services = Object.entries(compose.services ?? {});
  for (const [name, service] of services) {
    if (service.image === undefined) continue;
    const tag = /^[^@]+?(?::([^/:@]+))?(@sha256:[0-9a-f]{64})?$/.exec(service.image);
    if (!tag || (!tag[1] && !tag[2]) || tag[1] === "latest") throw new ReplayError(`docker-compose.yml: service ${name} uses ${service.image}: pin a version`);
  }
  const seed = services.find(([, s]) => s.profiles?.includes("seed"));
  if (!seed) throw new ReplayError("docker-compose.yml: no service in the seed profile (docker compose --profile seed run --rm seed)");
  const [name, service] = seed;
  const context = typeof service.build === "string" ? service.build : service.build?.context;
  if (context !== ".") throw new ReplayError(`docker-compose.yml: service ${name} must build this Dockerfile (build: .)`);
  const command = service.command;
  if (!Array.isArray(command) || command.length === 0 || !command.every((c) => typeof c === "string")) {
    throw new ReplayError(`docker-compose.yml: service ${name}: command must be a list of strings`);
  }
  return { seedCommand: command };
}
