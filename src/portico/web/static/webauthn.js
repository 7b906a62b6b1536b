// Passkeys on the sign-in pages: the server puts WebAuthn options in a JSON data block
// (<script type="application/json" id="webauthn-options">), this script asks the browser
// for a credential and posts it back in the page's form (field "credential"). Forms that
// carry data-webauthn="create" register a passkey; "get" signs in or verifies with one;
// "conditional" offers the account's passkeys in the identifier field's autofill.
"use strict";
(() => {
  const bytes = (b64url) => {
    const text = atob(b64url.replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(text, (c) => c.charCodeAt(0)).buffer;
  };
  const b64url = (buffer) => btoa(String.fromCharCode(...new Uint8Array(buffer)))
    .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const creation = (o) => ({
    ...o,
    challenge: bytes(o.challenge),
    user: { ...o.user, id: bytes(o.user.id) },
    excludeCredentials: (o.excludeCredentials || []).map((c) => ({ ...c, id: bytes(c.id) })),
  });
  const request = (o) => ({
    ...o,
    challenge: bytes(o.challenge),
    allowCredentials: (o.allowCredentials || []).map((c) => ({ ...c, id: bytes(c.id) })),
  });
  const serialise = (credential) => {
    const r = credential.response;
    const response = { clientDataJSON: b64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = b64url(r.attestationObject);
      response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      response.authenticatorData = b64url(r.authenticatorData);
      response.signature = b64url(r.signature);
      if (r.userHandle) response.userHandle = b64url(r.userHandle);
    }
    return JSON.stringify({
      id: credential.id, rawId: b64url(credential.rawId), type: credential.type, response,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      clientExtensionResults: credential.getClientExtensionResults(),
    });
  };
  const send = (form, credential) => {
    form.querySelector("input[name=credential]").value = serialise(credential);
    form.submit();
  };
  document.addEventListener("DOMContentLoaded", () => {
    const data = document.getElementById("webauthn-options");
    if (!data || !window.PublicKeyCredential) return;
    const options = JSON.parse(data.textContent);
    let autofill = null; // the pending conditional request, given up for the button's
    for (const note of document.querySelectorAll("[data-webauthn-unsupported]")) note.hidden = true;
    for (const form of document.querySelectorAll("form[data-webauthn]")) {
      const mode = form.dataset.webauthn;
      const button = form.querySelector("button");
      if (button) button.hidden = false;
      if (mode === "conditional") {
        PublicKeyCredential.isConditionalMediationAvailable?.().then((available) => {
          if (!available) return;
          autofill = new AbortController();
          navigator.credentials.get({
            publicKey: request(options), mediation: "conditional", signal: autofill.signal,
          }).then((credential) => credential && send(form, credential)).catch(() => {});
        });
        continue;
      }
      form.addEventListener("submit", (event) => {
        if (form.querySelector("input[name=credential]").value) return;
        event.preventDefault();
        if (autofill) autofill.abort();
        const ask = mode === "create"
          ? navigator.credentials.create({ publicKey: creation(options) })
          : navigator.credentials.get({ publicKey: request(options) });
        ask.then((credential) => send(form, credential)).catch(() => {
          const error = form.querySelector("[data-webauthn-error]");
          if (error) error.hidden = false;
        });
      });
    }
  });
})();
