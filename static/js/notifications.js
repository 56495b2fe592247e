/* The header's bell: asks the server for the unread count every few seconds (data-poll-seconds) and shows
   it without a reload. The count's text for screen readers sits in an aria-live region, so a new
   notification is announced. The X-Background-Poll header tells the session limits (dealers.reauth) that
   this request is no sign of activity: an open tab nobody uses still reaches the idle timeout.
   No dependencies, no inline code (Content-Security-Policy). */
(function () {
  "use strict";
  var bell = document.querySelector("a.bell[data-notification-count]");
  if (!bell || !window.fetch) return;
  var url = bell.getAttribute("data-notification-count");
  var seconds = parseFloat(bell.getAttribute("data-poll-seconds")) || 20;
  var count = bell.querySelector("[data-bell-count]");
  var label = bell.querySelector("[data-bell-label]");
  var busy = false;
  function show(data) {
    if (typeof data.unread !== "number") return;
    if (count && count.textContent !== String(data.unread)) count.textContent = String(data.unread);
    if (label && data.label && label.textContent !== data.label) label.textContent = data.label;
    bell.classList.toggle("has-unread", data.unread > 0);
  }
  function poll() {
    if (busy || document.hidden) return;
    busy = true;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json", "X-Background-Poll": "1" }, cache: "no-store" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) { if (data) show(data); })
      .catch(function () {})
      .then(function () { busy = false; });
  }
  setInterval(poll, seconds * 1000);
  document.addEventListener("visibilitychange", poll);
})();
