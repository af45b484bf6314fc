import { spawn } from "node:child_process";
import { join } from "node:path";
import { freePort, type BenchServer } from "../../tests/helpers/spawn-server";
import { startWorker, type Worker } from "../lib/child";
import { cpuByProcess, cpuDelta } from "../lib/cpu";
import { createAgency, type Agency } from "../lib/fixtures";
import { scrape } from "../lib/metrics";
import { round, summarize } from "../lib/stats";

type HireRecord = [id: string, started: number, ended: number, ok: boolean];
type Receipt = [id: string, notificationId: string, createdAt: number, received: number];

const PER_WORKER = 2500;

async function connectSockets(baseUrl: string, mode: "aiutami" | "bare", auths: Array<Record<string, unknown>>): Promise<Worker[]> {
  const workers: Worker[] = [];
  for (let i = 0; i < auths.length; i += PER_WORKER) {
    const worker = startWorker("workers/sockets.ts");
    workers.push(worker);
    const res = await worker.request<{ connected: number; failed: number }>({ type: "connect", baseUrl, mode, auths: auths.slice(i, i + PER_WORKER), parallel: 50 }, "connected");
    if (res.failed > 0) throw new Error(`${res.failed} sockets could not connect`);
  }
  return workers;
}

async function collect(workers: Worker[]): Promise<Receipt[]> {
  const parts = await Promise.all(workers.map((w) => w.request<{ receipts: Receipt[] }>({ type: "report" }, "report")));
  return parts.flatMap((p) => p.receipts);
}

async function hire(hirer: Worker, msg: Record<string, unknown>) {
  return hirer.request<{ records: HireRecord[]; skipped: number; failures: Record<string, number>; seconds: number }>({ type: "run", maxInFlight: 2000, ...msg }, "done");
}

/** Joins hires with arrivals: latency from the start of the call, and from the notification's creation (in the commit). */
function analyse(records: HireRecord[], receipts: Receipt[]) {
  const byHire = new Map<string, Receipt[]>();
  for (const r of receipts) byHire.set(r[0], [...(byHire.get(r[0]) ?? []), r]);
  const fromCall: number[] = [];
  const fromCommit: number[] = [];
  let lost = 0;
  let duplicated = 0;
  const ok = records.filter((r) => r[3]);
  for (const [id, started] of ok) {
    const got = byHire.get(id);
    if (!got?.length) {
      lost++;
      continue;
    }
    duplicated += got.length - 1;
    fromCall.push(got[0]![3] - started);
    if (got[0]![2]) fromCommit.push(got[0]![3] - got[0]![2]);
  }
  return { sent: ok.length, failed: records.length - ok.length, delivered: ok.length - lost, lost, duplicated, fromCall, fromCommit };
}

const hiresPerStatement = (before: Awaited<ReturnType<typeof scrape>>, after: Awaited<ReturnType<typeof scrape>>) =>
  round((after.hireStatementHires - before.hireStatementHires) / Math.max(1, after.hireStatements - before.hireStatements), 2);

/**
 * The rate the hirer kept up: successful hires over the span in which they were started (one interval
 * added for the last). Dividing by the step's whole duration instead would count the last responses'
 * latency as time without hires, and read a step of 1,000/s as 999.
 */
function sustainedRate(records: HireRecord[], rate: number): number {
  const ok = records.filter((r) => r[3]);
  if (ok.length === 0) return 0;
  let first = Infinity;
  let last = -Infinity;
  for (const r of records) {
    first = Math.min(first, r[1]);
    last = Math.max(last, r[1]);
  }
  return round((ok.length * 1000) / (last - first + 1000 / rate), 1);
}

export type LiveOptions = { server: BenchServer; appUrl: string; sockets: number; rate: number; seconds: number; throughputRates: number[]; throughputSeconds: number };

/** Scenarios 1 and 3 on one agency: delivery latency (with the bare Socket.IO baseline), then the throughput ladder. */
export async function runLive(opts: LiveOptions) {
  const agency: Agency = await createAgency({ baseUrl: opts.server.baseUrl, appUrl: opts.appUrl, providers: opts.sockets, clients: 50, label: "live" });
  const workers = await connectSockets(opts.server.baseUrl, "aiutami", agency.providers.map((p) => ({ token: p.token })));
  const hirer = startWorker("workers/hirer.ts");
  const base = { mode: "aiutami", baseUrl: opts.server.baseUrl, tenant: agency.tenant.slug, clientTokens: agency.clientTokens, providerIds: agency.providers.map((p) => p.userId) };
  try {
    await hire(hirer, { ...base, rate: 50, seconds: 2 }); // warm-up: JIT, pools, plans
    await new Promise((r) => setTimeout(r, 1000));
    await collect(workers);
    const metricsBefore = await scrape(opts.server.baseUrl); // also resets the event-loop histogram

    const label = (pid: number, comm: string) =>
      pid === opts.server.pid ? "server" : pid === hirer.child.pid ? "hirer (load)" : workers.some((w) => w.child.pid === pid) ? "socket workers (load)" : comm === "postgres" || comm === "redis-server" ? comm : "other";
    const cpuBefore = cpuByProcess(label);
    const run = await hire(hirer, { ...base, rate: opts.rate, seconds: opts.seconds });
    const cpuSeconds = cpuDelta(cpuBefore, cpuByProcess(label));
    await new Promise((r) => setTimeout(r, 3000)); // let the last ones arrive
    const loop = await scrape(opts.server.baseUrl);
    const result = analyse(run.records, await collect(workers));
    const delivery = {
      ...summarize(result.fromCall),
      sent: result.sent,
      delivered: result.delivered,
      lost: result.lost,
      duplicated: result.duplicated,
      failed: result.failed,
      skipped: run.skipped,
      failures: run.failures,
      achievedRate: sustainedRate(run.records, opts.rate),
      commitToReceipt: summarize(result.fromCommit),
      eventLoopP99Ms: round(loop.eventLoopP99Ms, 1),
      /** Group commit: hires per statement that wrote them, over the window. */
      hiresPerStatement: hiresPerStatement(metricsBefore, loop),
      cpuSeconds,
      sockets: opts.sockets,
      rate: opts.rate,
      seconds: opts.seconds,
      baselineP50Ms: Number.NaN,
      baselineP99Ms: Number.NaN,
      ratioToBaseline: Number.NaN,
    };

    // The throughput ladder: the highest rate whose hires all succeed at that pace with p99 delivery under 100 ms.
    const ladder: Array<{ rate: number; achieved: number; p99Ms: number; lost: number; failed: number; failures: Record<string, number>; hiresPerStatement: number; pass: boolean }> = [];
    for (const rate of opts.throughputRates) {
      const stepBefore = await scrape(opts.server.baseUrl);
      const step = await hire(hirer, { ...base, rate, seconds: opts.throughputSeconds });
      await new Promise((r) => setTimeout(r, 3000));
      const perStatement = hiresPerStatement(stepBefore, await scrape(opts.server.baseUrl));
      const a = analyse(step.records, await collect(workers));
      const s = summarize(a.fromCall);
      const achieved = sustainedRate(step.records, rate);
      const pass = a.lost === 0 && a.failed === 0 && step.skipped === 0 && s.p99Ms < 100 && achieved >= rate * 0.95;
      ladder.push({ rate, achieved, p99Ms: s.p99Ms, lost: a.lost, failed: a.failed + step.skipped, failures: step.failures, hiresPerStatement: perStatement, pass });
      const why = Object.entries(step.failures).map(([reason, n]) => `${n}× ${reason}`).join(", ");
      console.log(`  throughput ${rate}/s: achieved ${achieved}/s, p99 ${s.p99Ms} ms, lost ${a.lost}, failed ${a.failed + step.skipped}${why ? ` (${why})` : ""}, ${perStatement} hires per statement -> ${pass ? "pass" : "stop"}`);
      if (!pass) break;
    }
    const best = ladder.filter((l) => l.pass).at(-1);
    const throughput = { hiresPerSec: best?.achieved ?? 0, ladder, seconds: opts.throughputSeconds, sockets: opts.sockets };

    // Baseline: the same sockets and rate on a bare Socket.IO server.
    const port = await freePort();
    const bare = spawn(process.execPath, ["--import", "tsx", join(import.meta.dirname, "../baselines/bare-socketio.ts"), String(port)], { stdio: "inherit" });
    const bareUrl = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 100; i++) {
      if (await fetch(`${bareUrl}/readyz`).then((r) => r.ok, () => false)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const bareWorkers = await connectSockets(bareUrl, "bare", agency.providers.map((_, index) => ({ index })));
    try {
      await hire(hirer, { ...base, mode: "bare", baseUrl: bareUrl, rate: 50, seconds: 1 });
      await new Promise((r) => setTimeout(r, 500));
      await collect(bareWorkers);
      const bareRun = await hire(hirer, { ...base, mode: "bare", baseUrl: bareUrl, rate: opts.rate, seconds: Math.min(opts.seconds, 15) });
      await new Promise((r) => setTimeout(r, 1500));
      const b = summarize(analyse(bareRun.records, await collect(bareWorkers)).fromCall);
      delivery.baselineP50Ms = b.p50Ms;
      delivery.baselineP99Ms = b.p99Ms;
      delivery.ratioToBaseline = round(delivery.p50Ms / b.p50Ms, 2);
    } finally {
      await Promise.all(bareWorkers.map((w) => w.stop()));
      bare.kill("SIGTERM");
    }
    return { delivery, throughput };
  } finally {
    await hirer.stop();
    await Promise.all(workers.map((w) => w.stop()));
  }
}
