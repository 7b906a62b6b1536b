// Small enhancements for the sign-in pages; every page works without them.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // Show / hide a password.
  for (const button of document.querySelectorAll("button[data-reveal]")) {
    const input = document.getElementById(button.dataset.reveal);
    if (!input) continue;
    button.hidden = false;
    button.addEventListener("click", () => {
      const shown = input.type === "text";
      input.type = shown ? "password" : "text";
      button.setAttribute("aria-pressed", String(!shown));
    });
  }
  // "Send a new code" counts down the server's own wait (the page renders it), then is
  // enabled: the server would refuse it before.
  for (const button of document.querySelectorAll("button[data-countdown]")) {
    const end = Date.now() + (Number(button.dataset.countdown) || 0) * 1000;
    const label = button.dataset.label || button.textContent;
    const template = button.dataset.countdownText || "{seconds}";
    const tick = () => {
      const left = Math.ceil((end - Date.now()) / 1000);
      if (left <= 0) { button.disabled = false; button.textContent = label; return; }
      button.disabled = true;
      button.textContent = template.replace("{seconds}", String(left));
      setTimeout(tick, ((end - Date.now()) % 1000) || 1000);
    };
    tick();
  }
  // Copy a list (backup codes) to the clipboard.
  for (const button of document.querySelectorAll("button[data-copy]")) {
    const source = document.getElementById(button.dataset.copy);
    if (!source || !navigator.clipboard) continue;
    button.hidden = false;
    button.addEventListener("click", () => {
      const lines = [...source.querySelectorAll("li")].map((item) => item.textContent.trim());
      navigator.clipboard.writeText(lines.join("\n"));
    });
  }
});
