CREATE TYPE "public"."provider_kind" AS ENUM('tutor', 'housekeeper', 'senior_caregiver');--> statement-breakpoint
CREATE TABLE "provider_profiles" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"kind" "provider_kind" NOT NULL,
	"headline" text NOT NULL,
	"about" text DEFAULT '' NOT NULL,
	"hourly_rate_cents" integer NOT NULL,
	"currency" char(3) NOT NULL,
	"availability" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"city" text NOT NULL,
	"lat" double precision NOT NULL,
	"lng" double precision NOT NULL,
	"service_radius_km" integer NOT NULL,
	"education" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"experiences" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"subjects" text[] DEFAULT '{}'::text[] NOT NULL,
	"levels" text[] DEFAULT '{}'::text[] NOT NULL,
	"school_years" integer[] DEFAULT '{}'::integer[] NOT NULL,
	"tasks" text[] DEFAULT '{}'::text[] NOT NULL,
	"services" text[] DEFAULT '{}'::text[] NOT NULL,
	"published" boolean DEFAULT false NOT NULL,
	"photo" jsonb,
	"search_text" "tsvector" GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, coalesce(headline, '') || ' ' || coalesce(about, ''))) STORED,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "provider_profiles" ADD CONSTRAINT "provider_profiles_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "provider_profiles" ADD CONSTRAINT "provider_profiles_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "provider_profiles_tenant_id_user_id_index" ON "provider_profiles" USING btree ("tenant_id","user_id");--> statement-breakpoint
CREATE INDEX "provider_profiles_tenant_earth_idx" ON "provider_profiles" USING gist ("tenant_id",ll_to_earth("lat", "lng"));--> statement-breakpoint
CREATE INDEX "provider_profiles_tenant_kind_rate_idx" ON "provider_profiles" USING btree ("tenant_id","kind","hourly_rate_cents","id");--> statement-breakpoint
CREATE INDEX "provider_profiles_tenant_kind_id_idx" ON "provider_profiles" USING btree ("tenant_id","kind","id");--> statement-breakpoint
CREATE INDEX "provider_profiles_services_idx" ON "provider_profiles" USING gin ("services");--> statement-breakpoint
CREATE INDEX "provider_profiles_subjects_idx" ON "provider_profiles" USING gin ("subjects");--> statement-breakpoint
CREATE INDEX "provider_profiles_levels_idx" ON "provider_profiles" USING gin ("levels");--> statement-breakpoint
CREATE INDEX "provider_profiles_tasks_idx" ON "provider_profiles" USING gin ("tasks");--> statement-breakpoint
CREATE INDEX "provider_profiles_search_idx" ON "provider_profiles" USING gin ("search_text");