-- Search uses each provider's public point only (invariant 11): the exact location snapped to a fixed
-- 0.01° grid, stored beside it and indexed (GiST, KNN) in place of the exact point, which no query
-- filters or orders by any more. ll_to_earth and the cube operators are LEAKPROOF (0005), so under
-- row-level security the index still serves the radius test and nearest-first order.
DROP INDEX "provider_profiles_tenant_earth_idx";--> statement-breakpoint
ALTER TABLE "provider_profiles" ADD COLUMN "public_lat" double precision GENERATED ALWAYS AS (floor("lat" * 100 + 0.5) / 100) STORED NOT NULL;--> statement-breakpoint
ALTER TABLE "provider_profiles" ADD COLUMN "public_lng" double precision GENERATED ALWAYS AS (floor("lng" * 100 + 0.5) / 100) STORED NOT NULL;--> statement-breakpoint
CREATE INDEX "provider_profiles_tenant_public_earth_idx" ON "provider_profiles" USING gist ("tenant_id",ll_to_earth("public_lat", "public_lng"));--> statement-breakpoint
ANALYZE "provider_profiles";
