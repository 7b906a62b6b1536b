// Small enhancements for the console; every page works without this file.
"use strict";
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  if (!source || !navigator.clipboard) return;
  navigator.clipboard.writeText(source.value || source.textContent.trim()).then(() => {
    const label = button.textContent;
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = label; }, 1500);
  });
});
// JSON fields: say at once when the text is not JSON (the server checks again on save).
document.addEventListener("input", (event) => {
  const area = event.target;
  if (!area.matches || !area.matches("textarea[data-json]")) return;
  let message = "";
  if (area.value.trim()) {
    try { JSON.parse(area.value); } catch (error) { message = "Not valid JSON: " + error.message; }
  }
  area.setCustomValidity(message);
  area.reportValidity();
});
// Timestamps stored as epoch milliseconds, shown in the admin's time zone.
for (const node of document.querySelectorAll("time[data-ms]")) {
  const ms = Number(node.dataset.ms);
  if (ms) node.textContent = new Date(ms).toLocaleString();
}
