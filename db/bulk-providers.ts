import { sql } from "drizzle-orm";
import type { Database } from "./client";
import { bindScope } from "../server/db-scope";

/** Cities the generated providers live around (about ±25 km of jitter each). */
export const BULK_CITIES = [
  ["Milan", 45.4642, 9.19], ["Rome", 41.9028, 12.4964], ["Turin", 45.0703, 7.6869], ["Naples", 40.8518, 14.2681],
  ["Bologna", 44.4949, 11.3426], ["Florence", 43.7696, 11.2558], ["Genoa", 44.4056, 8.9463], ["Venice", 45.4408, 12.3155],
  ["Bari", 41.1171, 16.8719], ["Palermo", 38.1157, 13.3615], ["Verona", 45.4384, 10.9916], ["Padua", 45.4064, 11.8768],
  ["Trieste", 45.6495, 13.7768], ["Brescia", 45.5416, 10.2118], ["Parma", 44.8015, 10.3279], ["Catania", 37.5079, 15.083],
] as const;

/**
 * Makes `count` provider accounts, memberships and published-or-not profiles in one tenant,
 * generated inside PostgreSQL (INSERT ... SELECT over generate_series), so 100,000 take seconds
 * rather than a round trip per row. Ids are UUIDv7-shaped so "newest" ordering still holds.
 * All accounts share `passwordHash`.
 */
export async function generateProviders(db: Database, opts: { tenantId: string; count: number; passwordHash: string; tag?: string }) {
  const tag = opts.tag ?? Date.now().toString(36);
  const cities = sql.raw(`(array[${BULK_CITIES.map(([name]) => `'${name}'`).join(",")}])`);
  const lats = sql.raw(`(array[${BULK_CITIES.map(([, lat]) => lat).join(",")}]::float8[])`);
  const lngs = sql.raw(`(array[${BULK_CITIES.map(([, , lng]) => lng).join(",")}]::float8[])`);
  const n = BULK_CITIES.length;
  const baseMs = Date.now();
  // A UUIDv7 from a millisecond time and a per-row hash: 48 bits of time, version 7, variant 8.
  const uuid7 = (ms: string, salt: string) =>
    sql.raw(`(lpad(to_hex(${ms}), 12, '0') || '7' || substr(md5(${salt}), 1, 3) || '8' || substr(md5(${salt}), 4, 15))::uuid`);

  await db.transaction(async (tx) => {
    await bindScope(tx, { tenantId: opts.tenantId });
    await tx.execute(sql`
      create temporary table bulk_people on commit drop as
      select g,
             ${uuid7(`${baseMs} + g`, `'u' || g || '${tag}'`)} as user_id,
             ${uuid7(`${baseMs} + g`, `'p' || g || '${tag}'`)} as profile_id
      from generate_series(1, ${opts.count}) g`);
    await tx.execute(sql`
      insert into users (id, email, password_hash, first_name, last_name, phone)
      select user_id, 'provider-' || ${tag} || '-' || g || '@bulk.aiutami.test', ${opts.passwordHash},
             (array['Giulia','Marco','Sara','Luca','Elena','Paolo','Chiara','Andrea','Marta','Davide'])[1 + g % 10],
             (array['Rossi','Russo','Ferrari','Esposito','Bianchi','Romano','Colombo','Ricci','Marino','Greco'])[1 + (g / 10) % 10],
             '+39 3' || lpad((g % 1000000000)::text, 9, '0')
      from bulk_people`);
    await tx.execute(sql`
      insert into memberships (tenant_id, user_id, role)
      select ${opts.tenantId}::uuid, user_id, 'provider' from bulk_people`);
    await tx.execute(sql`
      insert into provider_profiles (id, tenant_id, user_id, kind, headline, about, hourly_rate_cents, currency, city, lat, lng,
        service_radius_km, subjects, levels, school_years, tasks, services, published)
      select profile_id, ${opts.tenantId}::uuid, user_id, kind::provider_kind,
        case kind when 'tutor' then 'Tutor for ' || subject || ' and exam preparation'
                  when 'housekeeper' then 'Reliable housekeeper: cleaning, laundry and ironing'
                  else 'Caring companion for seniors at home' end,
        'Experienced and punctual. References available. ' || ${cities}[city_ix],
        1200 + (hashtext(g::text || 'rate') & 32767) % 3300, 'EUR', ${cities}[city_ix],
        ${lats}[city_ix] + ((hashtext(g::text || 'lat') & 65535) / 65535.0 - 0.5) * 0.45,
        ${lngs}[city_ix] + ((hashtext(g::text || 'lng') & 65535) / 65535.0 - 0.5) * 0.6,
        5 + g % 40,
        case when kind = 'tutor' then array[subject, (array['physics','english','chemistry','latin','history'])[1 + g % 5]] else '{}' end,
        case when kind = 'tutor' then string_to_array((array['primary,middle', 'middle,high_school', 'high_school,university'])[1 + g % 3], ',') else '{}' end,
        case when kind = 'tutor' then array[1 + g % 13] else '{}'::int[] end,
        case when kind = 'housekeeper' then string_to_array((array['cleaning,laundry', 'cleaning,ironing,cooking', 'cleaning,shopping,errands,dishes'])[1 + g % 3], ',') else '{}' end,
        case when kind = 'senior_caregiver' then string_to_array((array['companionship,transportation', 'personal_care,mobility_assistance,companionship', 'household_tasks,companionship,transportation,specialized_care'])[1 + g % 3], ',') else '{}' end,
        g % 20 <> 0
      from (
        select g, user_id, profile_id,
               (array['tutor','housekeeper','senior_caregiver'])[1 + g % 3] as kind,
               (array['maths','italian','science','music'])[1 + (g / 3) % 4] as subject,
               1 + (hashtext(g::text || 'city') & 65535) % ${n} as city_ix
        from bulk_people
      ) p`);
  });
  await db.execute(sql`analyze provider_profiles`).catch(() => {
    // ANALYZE needs table ownership; the migrations' owner runs it where the server role cannot.
  });
}
