// Front-channel logout: go on once every application's logout iframe has loaded (or after
// a few seconds, so that one slow application cannot hold the user).
(function () {
  "use strict";
  var next = document.getElementById("logout-continue");
  if (!next) return;
  var frames = document.querySelectorAll("iframe.frontchannel-logout");
  var left = frames.length;
  var gone = false;
  function go() {
    if (!gone) { gone = true; window.location.replace(next.getAttribute("href")); }
  }
  frames.forEach(function (frame) {
    frame.addEventListener("load", function () { left -= 1; if (left <= 0) go(); });
    frame.addEventListener("error", function () { left -= 1; if (left <= 0) go(); });
  });
  if (left === 0) go();
  window.setTimeout(go, 3000);
})();
