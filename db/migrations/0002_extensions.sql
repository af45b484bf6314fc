-- Geo-spatial search in PostgreSQL itself: points on the earth (cube + earthdistance), and btree_gist
-- so one GiST index holds the tenant and the location together. All three exist in PGlite too.
CREATE EXTENSION IF NOT EXISTS cube;
--> statement-breakpoint
CREATE EXTENSION IF NOT EXISTS earthdistance;
--> statement-breakpoint
CREATE EXTENSION IF NOT EXISTS btree_gist;
