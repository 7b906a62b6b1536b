// Small enhancements for the console; every page works without this file. Lists update in
// place through htmx (vendor/htmx.min.js, driven by hx-* attributes in the templates); what
// htmx does not do is here: copy buttons, the JSON check, local times, tabs, toasts, the live
// preview, picker filters and dialogs.
"use strict";

// Delegated to the document, so they also work in content htmx swaps in.
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
// Dialogs: a link marked data-dialog opens the dialog of that id instead of its page.
document.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-dialog]");
  if (!link) return;
  const dialog = document.getElementById(link.dataset.dialog);
  if (!dialog || typeof dialog.showModal !== "function") return;
  event.preventDefault();
  dialog.showModal();
});
// An in-place update whose answer is not the list asked for (an error page, or the sign-in
// page once the session has ended) loads as a page of its own, as it would without htmx.
document.addEventListener("htmx:beforeSwap", (event) => {
  const { xhr, pathInfo } = event.detail;
  const asked = new URL(pathInfo.finalRequestPath, location.href);
  const answered = new URL(xhr.responseURL || asked.href);
  if (xhr.status < 300 && answered.pathname === asked.pathname) return;
  event.preventDefault();
  location.assign(asked.href);
});

// The rest enhances what a page (or an htmx swap) brings: ``root`` and what it holds.
const each = (root, selector, enhance) => {
  if (root.matches && root.matches(selector)) enhance(root);
  for (const node of root.querySelectorAll(selector)) enhance(node);
};

// Timestamps stored as epoch milliseconds, shown in the admin's time zone.
const localTime = (node) => {
  const ms = Number(node.dataset.ms);
  if (ms) node.textContent = new Date(ms).toLocaleString();
};

// Tabs: a list of links to a form's sections (.tabs a[data-tab-for]) shows one section at a
// time; without this file every section shows and the links jump to them.
const tabs = (list) => {
  const links = [...list.querySelectorAll("a[data-tab-for]")];
  const sections = links.map((link) => document.getElementById(link.dataset.tabFor)).filter(Boolean);
  if (!sections.length) return;
  const form = list.closest("form");
  if (form) form.dataset.tabsEnhanced = "";
  list.setAttribute("role", "tablist");
  for (const item of list.querySelectorAll("li")) item.setAttribute("role", "presentation");
  const show = (id) => {
    for (const link of links) {
      link.setAttribute("role", "tab");
      link.setAttribute("aria-selected", link.dataset.tabFor === id ? "true" : "false");
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
};

// Toasts leave after a while (errors stay until the next page).
const toast = (node) => { setTimeout(() => { node.hidden = true; }, 6000); };

// Live preview: a form marked data-live-preview re-renders its preview as the admin types
// (the "Preview unsaved changes" button, pressed for them, a moment after the last change).
// Kept here rather than in htmx: the button posts the form into the preview iframe, a
// navigation of the frame that htmx's requests (which swap HTML into this page) cannot make.
const livePreview = (form) => {
  const button = form.querySelector("#preview-unsaved");
  if (!button || !form.requestSubmit) return;
  let timer = 0;
  const refresh = () => {
    clearTimeout(timer);
    timer = setTimeout(() => form.requestSubmit(button), 600);
  };
  form.addEventListener("input", refresh);
  form.addEventListener("change", refresh);
};

// Pickers: the filter box narrows the options to those containing what is typed; a group's
// heading hides with the last of its options.
const picker = (node) => {
  const box = node.querySelector(".picker-filter");
  const none = node.querySelector(".picker-none");
  if (!box) return;
  box.hidden = false;
  box.addEventListener("input", () => {
    const term = box.value.trim().toLowerCase();
    let shown = 0;
    for (const option of node.querySelectorAll(".picker-options label")) {
      option.hidden = Boolean(term) && !option.textContent.toLowerCase().includes(term);
      if (!option.hidden) shown += 1;
    }
    for (const heading of node.querySelectorAll(".picker-group")) {
      let next = heading.nextElementSibling;
      let any = false;
      for (; next && !next.classList.contains("picker-group"); next = next.nextElementSibling) {
        if (!next.hidden) any = true;
      }
      heading.hidden = !any;
    }
    if (none) none.hidden = shown > 0;
  });
};

const enhance = (root) => {
  each(root, "time[data-ms]", localTime);
  each(root, ".tabs", tabs);
  each(root, ".toasts .flash.success", toast);
  each(root, "form[data-live-preview]", livePreview);
  each(root, "[data-picker]", picker);
};
// htmx announces the page once it is ready and then each piece it swaps in; without htmx
// (blocked, or failed to load) the page is enhanced once, now.
if (window.htmx) window.htmx.onLoad(enhance); else enhance(document);
