import { pgTable, text } from "drizzle-orm/pg-core";
import { timestamps } from "./columns.ts";

export const sectors = pgTable("sectors", {
	slug: text("slug").primaryKey(),
	name: text("name").notNull(),
	description: text("description").notNull(),
	...timestamps(),
});

export type SectorRow = typeof sectors.$inferSelect;
