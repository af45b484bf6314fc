import js from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", ".data/", "dist/", "client-sdk/dist/", "db/migrations/", "bench/results/", "tests/artifacts/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", destructuredArrayIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
      "no-restricted-properties": ["error", { object: "process", property: "env", message: "Read configuration through server/config.ts." }],
    },
  },
  {
    // One job per function, one concern per file (a newcomer reads either in one screen or two).
    files: ["server/**/*.ts", "server/**/*.js", "db/**/*.ts", "client-sdk/src/**/*.ts"],
    ignores: ["client-sdk/src/generated/**"],
    rules: {
      "max-lines-per-function": ["error", { max: 80, skipBlankLines: true, skipComments: true }],
      "max-lines": ["error", { max: 300, skipBlankLines: true, skipComments: true }],
    },
  },
  {
    // The demo page runs in browsers.
    files: ["server/demo/page/**/*.js"],
    languageOptions: { globals: globals.browser },
  },
  {
    // The config module, tooling and tests may read the environment.
    files: ["server/config.ts", "drizzle.config.ts", "tests/**", "bench/**", "scripts/**", "**/*.config.*"],
    rules: { "no-restricted-properties": "off" },
  },
);
