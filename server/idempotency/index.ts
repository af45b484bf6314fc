export * from "./request";
export * from "./store";
