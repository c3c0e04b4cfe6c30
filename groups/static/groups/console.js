// Small conveniences every page shares; each page works the same without them.
//
// Copy buttons: an element marked data-copy (its value, or its own text when the attribute is empty) gets a
// "Copy" button after it. The button is added here, not in the templates, so a page without JavaScript shows
// no button that cannot work. data-copy-label names what is copied for screen readers ("group id"). The button's
// visible word comes from the stylesheet (button.copy::before), so it stays out of the copied cell's own text.
(() => {
  const status = document.createElement("span");
  status.className = "visually-hidden";
  status.setAttribute("role", "status");

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    // Plain http on another host has no clipboard API: copy through a selected, off-screen text area.
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "visually-hidden";
    document.body.append(area);
    area.select();
    const copied = document.execCommand("copy");
    area.remove();
    return copied ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }

  function addCopyButtons(root) {
    for (const source of root.querySelectorAll("[data-copy]:not([data-copy-ready])")) {
      source.dataset.copyReady = "";
      const text = source.dataset.copy || source.textContent.trim();
      const button = document.createElement("button");
      button.type = "button";
      button.className = "copy";
      button.setAttribute("aria-label", `Copy ${source.dataset.copyLabel || "value"} ${text}`);
      button.addEventListener("click", () => {
        copyText(text).then(
          () => { button.dataset.state = "copied"; status.textContent = `Copied ${text}`; },
          () => { button.dataset.state = "refused"; status.textContent = "The browser refused to copy: select the text."; },
        );
        setTimeout(() => { delete button.dataset.state; }, 2000);
      });
      source.after(button);
    }
  }

  // "/" focuses the page's search box, as on most consoles, unless the user is typing somewhere.
  function onKey(event) {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target.closest("input, textarea, select, [contenteditable]")) return;
    const search = document.querySelector("input[type=search]");
    if (!search) return;
    event.preventDefault();
    search.focus();
    search.select();
  }

  // The header's cluster switcher is a <details>: it opens without JavaScript; this closes it as a menu would,
  // on a click elsewhere or on Escape (focus back on its summary).
  function closeSwitcher(event) {
    const open = document.querySelector("details.cluster-switcher[open]");
    if (!open) return;
    if (event.type === "keydown" && event.key === "Escape") {
      open.open = false;
      open.querySelector("summary").focus();
    } else if (event.type === "click" && !open.contains(event.target)) {
      open.open = false;
    }
  }

  function start() {
    document.body.append(status);
    for (const search of document.querySelectorAll("input[type=search]")) search.setAttribute("aria-keyshortcuts", "/");
    addCopyButtons(document);
    document.addEventListener("keydown", onKey);
    document.addEventListener("keydown", closeSwitcher);
    document.addEventListener("click", closeSwitcher);
    // htmx swaps in fresh rows (live tables poll): give their ids their buttons too.
    document.addEventListener("htmx:load", (event) => addCopyButtons(event.target));
  }

  // htmx swaps no 4xx or 5xx answer in, so a preview refused outright (a stale form, a right lost, a group
  // gone) left the page as it was, as if nothing happened. A form's answer is then shown as a plain post
  // would show it: the console's error page in place of this one. Polls (GET) are left alone: a refresh
  // that fails once must not replace the page an operator is reading.
  function showRefusal(event) {
    const xhr = event.detail.xhr;
    if (event.detail.requestConfig.verb === "get") return;
    if (!(xhr.getResponseHeader("Content-Type") || "").startsWith("text/html")) return;
    const answer = new DOMParser().parseFromString(xhr.responseText, "text/html");
    if (!answer.body || !answer.body.children.length) return;
    document.title = answer.title;
    document.body.replaceWith(document.adoptNode(answer.body));
    window.htmx.process(document.body);
  }

  document.addEventListener("htmx:responseError", showRefusal);

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
