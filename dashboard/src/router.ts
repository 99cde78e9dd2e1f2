// Pages in the URL (history routing: the Control Panel answers every page path with the app).
import { createRouter, createWebHistory } from "vue-router";
import OverviewView from "./views/OverviewView.vue";

export const router = createRouter({
  history: createWebHistory(),
  routes: [
    { path: "/", name: "overview", component: OverviewView },
    { path: "/calls", name: "calls", component: () => import("./views/CallsView.vue") },
    { path: "/calls/:id", name: "call", component: () => import("./views/TraceView.vue") },
    { path: "/alerts", name: "alerts", component: () => import("./views/AlertsView.vue") },
    { path: "/usage", name: "usage", component: () => import("./views/UsageView.vue") },
    { path: "/admin/users", name: "users", component: () => import("./views/UsersView.vue"), meta: { admin: true } },
    { path: "/admin/tokens", name: "tokens", component: () => import("./views/TokensView.vue"), meta: { staff: true } },
    { path: "/admin/limits", name: "limits", component: () => import("./views/LimitsView.vue") },
    { path: "/admin/keys", name: "keys", component: () => import("./views/KeysView.vue") },
    { path: "/admin/policies", name: "policies", component: () => import("./views/PoliciesView.vue") },
    { path: "/admin/teams", name: "teams", component: () => import("./views/TeamsView.vue") },
    { path: "/account", name: "account", component: () => import("./views/AccountView.vue") },
    { path: "/admin/requests", name: "requests", component: () => import("./views/RequestsView.vue"), meta: { staff: true } },
    { path: "/:rest(.*)*", name: "missing", component: () => import("./views/MissingView.vue") },
  ],
});
