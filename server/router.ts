import { auditRouter } from "./audit/router";
import { authRouter } from "./auth/router";
import { hiresRouter } from "./hires/router";
import { notificationsRouter } from "./notifications/router";
import { profilesRouter } from "./profiles/router";
import { tenantsRouter } from "./tenants/router";
import { router } from "./trpc";

export const appRouter = router({
  auth: authRouter,
  tenants: tenantsRouter,
  audit: auditRouter,
  profiles: profilesRouter,
  hires: hiresRouter,
  notifications: notificationsRouter,
});

/** The API's type, for the client SDK (`import type` only). */
export type AppRouter = typeof appRouter;
