import { readFileSync } from "node:fs";
import { join } from "node:path";
import { lexer, type Token, type Tokens } from "marked";

/**
 * What the README test does with a fenced (or indented) code block:
 * - `sh`: run with bash; `ts`: type-checked against the SDK, then run as an ES module; `js`: run as an ES module;
 * - `typecheck-only`: a TypeScript block that needs a browser, type-checked but not run;
 * - `not-run`: opted out with a reason; `text`: no language (a tree, an output), not code;
 * - `unknown`: a language the test cannot run, or a malformed marker: the test fails on it.
 */
export type BlockKind = "sh" | "ts" | "js" | "typecheck-only" | "not-run" | "text" | "unknown";

export type ReadmeBlock = {
  /** The README's path from the repository root, and the line its fence opens on. */
  file: string;
  line: number;
  lang: string;
  code: string;
  kind: BlockKind;
  /** Why the block is not run (from its marker), or what is wrong with it (`unknown`). */
  reason?: string;
};

const LANGUAGES: Record<string, "sh" | "ts" | "js" | "text"> = {
  sh: "sh", bash: "sh", shell: "sh",
  ts: "ts", typescript: "ts", mts: "ts",
  js: "js", javascript: "js", mjs: "js",
  "": "text", text: "text", txt: "text", plaintext: "text",
};

/** `<!-- not-run: why -->` or `<!-- typecheck-only: why -->`, alone on its line(s) just before the block. */
const MARKER = /^<!--\s*(not-run|typecheck-only)\s*:\s*(.*?)\s*-->\s*$/s;
const MARKER_LIKE = /^<!--\s*(not[- ]?run|typecheck[- ]?only)\b/i;

function classify(lang: string, marker: Tokens.HTML | undefined): Pick<ReadmeBlock, "kind" | "reason"> {
  const base = LANGUAGES[lang];
  const html = marker?.raw.trim();
  const match = html ? MARKER.exec(html) : null;
  if (html && !match && MARKER_LIKE.test(html)) return { kind: "unknown", reason: `malformed marker ${html}: write <!-- not-run: reason --> or <!-- typecheck-only: reason -->` };
  if (match) {
    const [, kind, reason] = match as unknown as [string, "not-run" | "typecheck-only", string];
    if (!reason) return { kind: "unknown", reason: `the ${kind} marker gives no reason` };
    if (kind === "typecheck-only" && base !== "ts") return { kind: "unknown", reason: "typecheck-only is for TypeScript blocks" };
    return { kind, reason };
  }
  if (!base) return { kind: "unknown", reason: `no way to run a "${lang}" block: use sh, ts or js, or mark it <!-- not-run: reason -->` };
  return { kind: base };
}

/** Every code block of the given Markdown files (paths from `root`), in document order, classified. */
export function readmeBlocks(root: string, files: string[]): ReadmeBlock[] {
  const blocks: ReadmeBlock[] = [];
  for (const file of files) {
    const source = readFileSync(join(root, file), "utf8");
    let cursor = 0;
    const lineAt = (code: Tokens.Code) => {
      // Nested blocks (in a list, a quote) lose their indentation in `raw`: find them by their first line.
      let at = source.indexOf(code.raw, cursor);
      if (at < 0) at = source.indexOf(code.text.split("\n")[0] ?? "", cursor);
      if (at < 0) at = cursor;
      cursor = at + 1;
      return source.slice(0, at).split("\n").length;
    };
    const visit = (tokens: Token[]) => {
      let previous: Token | undefined;
      for (const token of tokens) {
        if (token.type === "code") {
          const code = token as Tokens.Code;
          const lang = (code.lang ?? "").trim().split(/\s+/)[0]!.toLowerCase();
          const marker = previous?.type === "html" ? (previous as Tokens.HTML) : undefined;
          blocks.push({ file, line: lineAt(code), lang, code: code.text, ...classify(lang, marker) });
        }
        if (token.type === "list") for (const item of (token as Tokens.List).items) visit(item.tokens);
        else if (token.type === "blockquote") visit((token as Tokens.Blockquote).tokens);
        if (token.type !== "space") previous = token;
      }
    };
    visit(lexer(source));
  }
  return blocks;
}
