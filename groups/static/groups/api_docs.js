// /api/docs/: Swagger UI over the generated schema. "Try it out" from a signed-in browser sends the
// session's CSRF token, which the API requires of a change made with the session cookie.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({
    url: root.dataset.schemaUrl,
    dom_id: "#swagger-ui",
    // Not the public validator: the page loads nothing from elsewhere.
    validatorUrl: null,
    requestInterceptor: (request) => {
      // The cookie is HttpOnly, so the page carries the token.
      request.headers["X-CSRFToken"] = root.dataset.csrfToken;
      return request;
    },
  });
});
