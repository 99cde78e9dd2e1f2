/// <reference types="vitest/config" />
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { defineConfig, type Plugin } from "vite";
import vue from "@vitejs/plugin-vue";

// Swagger UI's bundle and stylesheet (npm swagger-ui-dist) go into the build under /api-docs/,
// so the Control Panel's /api/v1/docs works offline; public/api-docs/init.js starts it.
function swaggerUi(): Plugin {
  const files = ["swagger-ui-bundle.js", "swagger-ui.css", "LICENSE"];
  return {
    name: "iron-cage-swagger-ui",
    apply: "build",
    generateBundle() {
      for (const name of files) {
        const path = fileURLToPath(new URL(`node_modules/swagger-ui-dist/${name}`, import.meta.url));
        this.emitFile({ type: "asset", fileName: `api-docs/${name}`, source: readFileSync(path) });
      }
    },
  };
}

// The Control Panel serves the build at / (any other page path too: history routing); the API
// (/api/v1) and /ws are on the same origin. `npm run dev` proxies them to a Control Panel on its
// default port.
export default defineConfig({
  plugins: [vue(), swaggerUi()],
  base: "/",
  build: {
    outDir: fileURLToPath(new URL("../python/iron_cage/control_panel/static", import.meta.url)),
    emptyOutDir: true,
    chunkSizeWarningLimit: 1500,
  },
  server: {
    proxy: {
      "/api": "http://127.0.0.1:8700",
      "/ws": { target: "ws://127.0.0.1:8700", ws: true },
    },
  },
  test: {
    include: ["src/**/*.test.ts"],
  },
});
