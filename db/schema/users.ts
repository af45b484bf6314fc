import { pgTable, text } from "drizzle-orm/pg-core";
import { createdAt, id, updatedAt } from "./columns";

/** People: clients, providers and agency staff. Not tenant-owned: one person may belong to many tenants. */
export const users = pgTable("users", {
  id: id(),
  /** Trimmed and lower-cased before it is stored, so uniqueness is case-insensitive. */
  email: text().notNull().unique(),
  passwordHash: text().notNull(),
  firstName: text().notNull(),
  lastName: text().notNull(),
  phone: text(),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});
