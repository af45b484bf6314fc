/**
 * Issues hires at a steady rate over real HTTP tRPC calls (or, for the baseline, HTTP triggers to
 * the bare Socket.IO server), and records when each started and ended. Bounded in count and time.
 */
import { now } from "../lib/now";

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
  const startsAt = new Date(Date.now() + 86_400_000).toISOString();
  const fire = async (i: number) => {
    const started = now();
    inFlight++;
    try {
      if (msg.mode === "aiutami") {
        const res = await fetch(`${msg.baseUrl}/trpc/hires.create`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${msg.clientTokens[i % msg.clientTokens.length]}`, "x-tenant-id": msg.tenant },
          body: JSON.stringify({ providerId: msg.providerIds[i % msg.providerIds.length], jobDescription: `Benchmark job number ${i}`, location: "Milan", startsAt }),
        });
        const body = (await res.json()) as { result?: { data: { id: string } } };
        records.push([body.result?.data.id ?? `failed-${i}`, started, now(), res.ok && !!body.result]);
      } else {
        const id = `p${i}`;
        const res = await fetch(`${msg.baseUrl}/emit`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ to: i % msg.providerIds.length, id }) });
        await res.arrayBuffer();
        records.push([id, started, now(), res.ok]);
      }
    } catch {
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
  return { records, skipped, seconds: (now() - t0) / 1000 };
}

process.on("message", (msg: { type: string } & Record<string, unknown>) => {
  if (msg.type === "close") process.exit(0);
  if (msg.type !== "run") return;
  run(msg as unknown as Run).then(
    (result) => process.send!({ type: "done", ...result }),
    (err: Error) => process.send!({ type: "error", error: err.message }),
  );
});
