/**
 * Builds the dashboard UI (Preact, JSX through Vite's own transformer) into dist/web, which
 * src/gateway/dashboard.ts serves. `base: "./"` keeps asset URLs relative, so the UI works
 * wherever the gateway mounts it.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const here = path.dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  root: here,
  base: "./",
  logLevel: "warn",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  resolve: { alias: { react: "preact/compat", "react-dom": "preact/compat" } },
  build: {
    outDir: path.resolve(here, "..", "..", "dist", "web"),
    emptyOutDir: true,
    target: "es2022",
    assetsInlineLimit: 0,
    reportCompressedSize: false,
  },
});
