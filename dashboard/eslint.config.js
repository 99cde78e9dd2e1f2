// ESLint flat config (`npm run lint`, part of `make lint`): ESLint's and typescript-eslint's
// recommended rules and eslint-plugin-vue's essential ones (its "recommended" set adds only
// template layout rules: one attribute per line, element content on its own line).
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
