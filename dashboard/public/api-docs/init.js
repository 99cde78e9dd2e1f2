// Starts Swagger UI (served from this build, not a CDN) on the Control Panel's OpenAPI spec.
/* global SwaggerUIBundle, window */
window.ui = SwaggerUIBundle({
  url: "/api/v1/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
});
