import { it } from "vitest";
import { createContextInner } from "../../server/context";
import { createMarketplace, hireInput } from "../helpers/hiring";
import { createCaller, createTestEnv } from "../helpers/test-app";
it("measures", async () => {
  const env = await createTestEnv();
  const m = await createMarketplace(env);
  const caller = (key: string | null) => createCaller(createContextInner({ deps: env.deps, auth: m.client.auth, request: { tenantRef: m.tenant.slug, idempotencyKey: key, ip: "x" } }));
  const run = async (keyed: boolean, n: number) => {
    const t = performance.now();
    for (let r = 0; r < n / 200; r++) await Promise.all(Array.from({ length: 200 }, (_, i) => caller(keyed ? `k-${r}-${i}-${Math.random()}` : null).hires.create(hireInput(m.provider.id, i))));
    return performance.now() - t;
  };
  await run(false, 400); await run(true, 400);
  const res = { plain: 0, keyed: 0 };
  for (let k = 0; k < 3; k++) { res.plain += await run(false, 2000); res.keyed += await run(true, 2000); }
  console.log("RESULT", process.env.VARIANT, Math.round(res.plain), Math.round(res.keyed), (res.keyed / res.plain).toFixed(2));
  await env.close();
}, 600_000);
