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
// Tabs: a list of links to a form's sections (.tabs a[data-tab-for]) shows one section at a
// time; without this file every section shows and the links jump to them.
for (const list of document.querySelectorAll(".tabs")) {
  const links = [...list.querySelectorAll("a[data-tab-for]")];
  const sections = links.map((link) => document.getElementById(link.dataset.tabFor)).filter(Boolean);
  if (!sections.length) continue;
  const form = list.closest("form");
  if (form) form.dataset.tabsEnhanced = "";
  list.setAttribute("role", "tablist");
  for (const item of list.querySelectorAll("li")) item.setAttribute("role", "presentation");
  const show = (id) => {
    for (const link of links) {
      const on = link.dataset.tabFor === id;
      link.setAttribute("role", "tab");
      link.setAttribute("aria-selected", on ? "true" : "false");
    }
    for (const section of sections) section.hidden = section.id !== id;
  };
  // A section with an error opens first; else the one in the address, else the first.
  const failing = sections.find((section) => section.querySelector(".field-error, .flash.error"));
  const wanted = failing || sections.find((section) => "#" + section.id === location.hash)
    || document.getElementById(list.dataset.defaultTab || "");
  show((wanted || sections[0]).id);
  list.addEventListener("click", (event) => {
    const link = event.target.closest("a[data-tab-for]");
    if (!link) return;
    event.preventDefault();
    show(link.dataset.tabFor);
    history.replaceState(null, "", "#" + link.dataset.tabFor);
  });
}
// Toasts leave after a while (errors stay until the next page).
for (const toast of document.querySelectorAll(".toasts .flash.success")) {
  setTimeout(() => { toast.hidden = true; }, 6000);
}
// Live preview: a form marked data-live-preview re-renders its preview as the admin types
// (the "Preview unsaved changes" button, pressed for them, a moment after the last change).
for (const form of document.querySelectorAll("form[data-live-preview]")) {
  const button = form.querySelector("#preview-unsaved");
  if (!button || !form.requestSubmit) continue;
  let timer = 0;
  const refresh = () => {
    clearTimeout(timer);
    timer = setTimeout(() => form.requestSubmit(button), 600);
  };
  form.addEventListener("input", refresh);
  form.addEventListener("change", refresh);
}
// Pickers: the filter box narrows the options to those containing what is typed.
for (const picker of document.querySelectorAll("[data-picker]")) {
  const box = picker.querySelector(".picker-filter");
  const none = picker.querySelector(".picker-none");
  if (!box) continue;
  box.hidden = false;
  box.addEventListener("input", () => {
    const term = box.value.trim().toLowerCase();
    let shown = 0;
    for (const option of picker.querySelectorAll(".picker-options label")) {
      const match = !term || option.textContent.toLowerCase().includes(term);
      option.hidden = !match;
      if (match) shown += 1;
    }
    for (const heading of picker.querySelectorAll(".picker-group")) {
      let next = heading.nextElementSibling;
      let any = false;
      while (next && !next.classList.contains("picker-group")) {
        if (!next.hidden) any = true;
        next = next.nextElementSibling;
      }
      heading.hidden = !any;
    }
    if (none) none.hidden = shown > 0;
  });
}
// Dialogs: a link marked data-dialog opens the dialog of that id instead of its page.
document.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-dialog]");
  if (!link) return;
  const dialog = document.getElementById(link.dataset.dialog);
  if (!dialog || typeof dialog.showModal !== "function") return;
  event.preventDefault();
  dialog.showModal();
});
