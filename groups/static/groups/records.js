// The record browser. Its per-record format switch: every format of a record is already on the page
// (all but one hidden), so a click shows another at once. Without this script the same links
// reload the page with the record's format in the query string.
document.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-show-format]");
  const record = link && link.closest("tr[data-record]");
  if (!record) return;
  event.preventDefault();
  const wanted = link.dataset.showFormat;
  for (const field of record.querySelectorAll(".bytes")) {
    const variants = [...field.querySelectorAll("pre[data-format]")];
    if (!variants.length) continue; // null
    const match = variants.find((v) => v.dataset.format === wanted);
    const shown = match || variants.find((v) => v.dataset.format === field.dataset.detected);
    for (const variant of variants) variant.hidden = variant !== shown;
    field.querySelector(".shown-format").textContent = shown.dataset.format;
    field.querySelector(".refused").textContent = match || wanted === "auto" ? "" : `not ${wanted}`;
  }
  for (const other of record.querySelectorAll("a[data-show-format]")) {
    if (other === link) other.setAttribute("aria-current", "true");
    else other.removeAttribute("aria-current");
  }
});

// Choosing where to start also chooses the direction (groups/forms_records.py, default_direction):
// forwards from a date and time, an offset or the log start, backwards from the log end. A direction the
// user picked on this page stays.
document.addEventListener("change", (event) => {
  const form = event.target.form;
  const direction = form && form.elements.namedItem("direction");
  if (!direction) return;
  if (event.target.name === "direction") form.dataset.directionChosen = "true";
  else if (event.target.name === "seek" && !form.dataset.directionChosen) {
    direction.value = event.target.value === "end" ? "backward" : "forward";
  }
});
