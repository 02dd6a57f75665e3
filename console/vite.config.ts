// The console is served by kumod at /console/ from <kumod's dir>/../share/kumo/console, which is
// where the project's build puts this output (scripts/build.sh passes --outDir).
import { defineConfig } from "vite";

export default defineConfig({
  base: "/console/",
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: {
    target: "es2022",
    chunkSizeWarningLimit: 1500,
    // No inline scripts or eval: kumod sends a Content-Security-Policy of script-src 'self'.
    modulePreload: { polyfill: false },
    emptyOutDir: true,
  },
});
