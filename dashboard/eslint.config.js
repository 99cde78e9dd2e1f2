// ESLint flat config: ESLint's, Vue's and typescript-eslint's recommended rules (`npm run lint`, part of `make lint`).
import js from "@eslint/js";
import pluginVue from "eslint-plugin-vue";
import { defineConfigWithVueTs, vueTsConfigs } from "@vue/eslint-config-typescript";

export default defineConfigWithVueTs(
  { name: "dashboard/files", files: ["**/*.{js,ts,vue}"] },
  { name: "dashboard/ignores", ignores: ["node_modules/**", "dist/**"] },
  js.configs.recommended,
  pluginVue.configs["flat/essential"],
  vueTsConfigs.recommended,
);
