import { defineConfig } from "tsup";

export default defineConfig([
  {
    // The package: ESM and CommonJS, dependencies left to the consumer's bundler, types bundled.
    entry: { index: "src/index.ts" },
    format: ["esm", "cjs"],
    dts: { resolve: false },
    clean: true,
    sourcemap: true,
    target: "es2022",
    platform: "neutral",
    tsconfig: "tsconfig.json",
  },
  {
    // One self-contained ES module for pages without a bundler (the server's /demo uses it).
    entry: { "browser/aiutami-client": "src/index.ts" },
    format: ["esm"],
    platform: "browser",
    target: "es2020",
    noExternal: [/.*/],
    minify: true,
    sourcemap: true,
    dts: false,
    clean: false,
    tsconfig: "tsconfig.json",
  },
]);
