/**
 * `tsx bench/profile-summary.ts <file.cpuprofile>`: where a V8 CPU profile's time went. Prints self time
 * by package and by function, and inclusive time by package (a sample counts once for each package on
 * its stack), which is what shows, say, how much of the server's time query building takes.
 */
import { readFileSync } from "node:fs";

type Node = { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] };
const profile = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const packageOf = (url: string) => {
  if (!url) return "(native/gc)";
  const m = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1]!;
  if (url.startsWith("node:")) return url;
  const own = /\/main\/([^/]+(\/[^/]+)?)/.exec(url);
  return own ? own[1]! : url;
};
const nameOf = (f: Node["callFrame"]) => `${f.functionName || "(anonymous)"} ${f.url.replace(/.*node_modules\//, "").replace(/.*\/main\//, "")}:${f.lineNumber}`;

const self = new Map<string, number>();
const selfPkg = new Map<string, number>();
const inclusivePkg = new Map<string, number>();
let total = 0;
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0;
  total += dt;
  const f = byId.get(id)!.callFrame;
  self.set(nameOf(f), (self.get(nameOf(f)) ?? 0) + dt);
  selfPkg.set(packageOf(f.url), (selfPkg.get(packageOf(f.url)) ?? 0) + dt);
  const seen = new Set<string>();
  for (let n: number | undefined = id; n !== undefined; n = parent.get(n)) seen.add(packageOf(byId.get(n)!.callFrame.url));
  for (const p of seen) inclusivePkg.set(p, (inclusivePkg.get(p) ?? 0) + dt);
});
const show = (m: Map<string, number>, n: number) =>
  [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, t]) => `${((100 * t) / total).toFixed(1).padStart(5)}%  ${k}`).join("\n");
console.log(`total ${(total / 1e6).toFixed(1)} s\n-- self, by package\n${show(selfPkg, 15)}\n-- inclusive, by package\n${show(inclusivePkg, 25)}\n-- self, by function\n${show(self, 30)}`);
