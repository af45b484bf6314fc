/**
 * Issues hires at a steady rate over real HTTP tRPC calls (or, for the baseline, HTTP triggers to
 * the bare Socket.IO server), and records when each started and ended. Bounded in count and time.
 */
import { Agent, request } from "node:http";
import { now } from "../lib/now";

// Plain http.request with keep-alive: the load generator should spend as little CPU as it can, so the
// machine's two cores go to the system under test (undici's fetch cost about 2 ms of CPU per call here).
const agent = new Agent({ keepAlive: true, maxSockets: 256 });

function post(url: string, headers: Record<string, string>, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "POST", agent, headers: { ...headers, "content-length": Buffer.byteLength(body) } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

type Run = {
  mode: "aiutami" | "bare";
  baseUrl: string;
  tenant: string;
  clientTokens: string[];
  providerIds: string[];
  rate: number;
  seconds: number;
  maxInFlight: number;
};

async function run(msg: Run) {
  const total = Math.round(msg.rate * msg.seconds);
  // [id, started ms, ended ms, ok]
  const records: Array<[string, number, number, boolean]> = [];
  let inFlight = 0;
  let skipped = 0;
  /** Why hires failed: "<status> <code>", or the network error's message, with counts. */
  const failures: Record<string, number> = {};
  const failed = (why: string) => (failures[why] = (failures[why] ?? 0) + 1);
  const startsAt = new Date(Date.now() + 86_400_000).toISOString();
  const fire = async (i: number) => {
    const started = now();
    inFlight++;
    try {
      if (msg.mode === "aiutami") {
        const res = await post(
          `${msg.baseUrl}/trpc/hires.create`,
          { "content-type": "application/json", authorization: `Bearer ${msg.clientTokens[i % msg.clientTokens.length]}`, "x-tenant-id": msg.tenant },
          JSON.stringify({ providerId: msg.providerIds[i % msg.providerIds.length], jobDescription: `Benchmark job number ${i}`, location: "Milan", startsAt }),
        );
        const body = JSON.parse(res.text) as { result?: { data: { id: string } }; error?: { data?: { code?: string } } };
        const ok = res.status === 200 && !!body.result;
        if (!ok) failed(`${res.status} ${body.error?.data?.code ?? "?"}`);
        records.push([body.result?.data.id ?? `failed-${i}`, started, now(), ok]);
      } else {
        const id = `p${i}`;
        const res = await post(`${msg.baseUrl}/emit`, { "content-type": "application/json" }, JSON.stringify({ to: i % msg.providerIds.length, id }));
        records.push([id, started, now(), res.status === 204]);
      }
    } catch (err) {
      failed((err as Error).message);
      records.push([`failed-${i}`, started, now(), false]);
    } finally {
      inFlight--;
    }
  };
  const t0 = now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / msg.rate;
    const wait = due - now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    if (inFlight >= msg.maxInFlight) {
      skipped++;
      continue;
    }
    pending.push(fire(i));
  }
  await Promise.all(pending);
  return { records, skipped, failures, seconds: (now() - t0) / 1000 };
}

process.on("message", (msg: { type: string } & Record<string, unknown>) => {
  if (msg.type === "close") process.exit(0);
  if (msg.type !== "run") return;
  run(msg as unknown as Run).then(
    (result) => process.send!({ type: "done", ...result }),
    (err: Error) => process.send!({ type: "error", error: err.message }),
  );
});
