// Sends the SAML response form of saml_post.html at once (SAML Bindings §3.5.4); without
// JavaScript the user presses its button.
document.getElementById("saml_post").submit();
