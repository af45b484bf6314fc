/** `tsx bench/profile-summary.ts <file.cpuprofile>`: self time by function and by package, for reading a profile quickly. */
import { readFileSync } from "node:fs";

type Node = { id: number; callFrame: { functionName: string; url: string; lineNumber: number } };
const profile = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map<string, number>();
profile.samples.forEach((id, i) => {
  const f = byId.get(id)!.callFrame;
  const key = `${f.functionName || "(anonymous)"} ${f.url.replace(/.*node_modules\//, "").replace(/.*\/main\//, "")}:${f.lineNumber}`;
  self.set(key, (self.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0));
});
const total = [...self.values()].reduce((a, b) => a + b, 0);
const groups = new Map<string, number>();
for (const [key, t] of self) {
  const m = /^\S+ ((@[^/]+\/)?[^/:]+)/.exec(key);
  groups.set(m?.[1] ?? key, (groups.get(m?.[1] ?? key) ?? 0) + t);
}
const show = (m: Map<string, number>, n: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, t]) => `${((100 * t) / total).toFixed(1).padStart(5)}%  ${k}`).join("\n");
console.log(`total ${(total / 1e6).toFixed(1)} s\n${show(groups, 15)}\n---\n${show(self, 25)}`);
