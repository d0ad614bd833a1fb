// Bundles src/main.ts into dist/app.js and copies the static files next to it.
// Run after `tsc --noEmit` (see package.json); esbuild itself does not type-check.
import { build } from "esbuild";
import { copyFile, mkdir, rm } from "node:fs/promises";

const dist = new URL("./dist/", import.meta.url);
await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });
await build({
  entryPoints: [new URL("./src/main.ts", import.meta.url).pathname],
  bundle: true,
  format: "esm",
  target: "safari15",
  outfile: new URL("app.js", dist).pathname,
  legalComments: "none",
  // Smaller to parse and to keep in the web process (the window reads it once, offline).
  minify: true,
  logLevel: "warning",
});
for (const file of ["index.html", "style.css"]) {
  await copyFile(new URL(file, import.meta.url), new URL(file, dist));
}
