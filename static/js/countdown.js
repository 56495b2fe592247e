/* Keeps first-contact countdowns ([data-due]) running without a reload. No dependencies.
   The wording comes translated from the server (data-left, data-overdue, data-units). */
(function () {
  "use strict";
  function fill(pattern, values) {
    return pattern.replace(/%\((\w)\)0?2?d/g, function (match, key) {
      var v = String(values[key]);
      return match.indexOf("02d") > 0 && v.length < 2 ? "0" + v : v;
    });
  }
  function span(ms, units) {
    var minutes = Math.floor(Math.abs(ms) / 60000);
    var v = { d: Math.floor(minutes / 1440), h: Math.floor((minutes % 1440) / 60), m: minutes % 60 };
    if (v.d) return fill(units[0], v);
    if (v.h) return fill(units[1], v);
    return fill(units[2], v);
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll(".countdown[data-due]").forEach(function (el) {
      var left = Date.parse(el.getAttribute("data-due")) - now;
      var units = (el.getAttribute("data-units") || "").split("|");
      if (isNaN(left) || units.length !== 3) return;
      var overdue = left < 0;
      el.textContent = (overdue ? el.getAttribute("data-overdue") : el.getAttribute("data-left")).replace("{}", span(left, units));
      el.classList.toggle("overdue", overdue);
      el.classList.toggle("soon", !overdue && left < 30 * 60000);
      el.classList.toggle("running", !overdue && left >= 30 * 60000);
    });
  }
  document.addEventListener("htmx:afterSwap", tick);
  setInterval(tick, 30000);
})();
