// Read by generate-router-types.ts through the TypeScript checker; never bundled.
import type { inferRouterInputs, inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "../../server/router";

export type Inputs = inferRouterInputs<AppRouter>;
export type Outputs = inferRouterOutputs<AppRouter>;
export type ErrorShape = AppRouter["_def"]["_config"]["$types"]["errorShape"];
