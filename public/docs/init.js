// Swagger UI for orderlock: our own document, nothing from another origin.
// Loaded as a file (the CSP allows no inline script) after swagger-ui-bundle.js.
window.ui = window.SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  // The default validator badge posts the document to validator.swagger.io.
  validatorUrl: null,
  presets: [window.SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
  docExpansion: "list",
  defaultModelsExpandDepth: 0,
  displayOperationId: true,
  showExtensions: true,
  tryItOutEnabled: false,
  persistAuthorization: false,
});
