/* Small behaviours that templates ask for with data attributes, so that no page carries inline code:
   the Content-Security-Policy runs scripts from our own static files only (docs/security.md).
   - <select data-autosubmit>: submits its form when the choice changes (a <noscript> button stays);
   - <input data-select-on-focus>: selects its text on focus, for one-time secrets to copy;
   - <a data-history-back href="...">: goes back a page when there is one, else follows href;
   - <button data-copy="ID" data-copied-text="...">: copies the value of the input ID to the clipboard
     (selecting it where the Clipboard API is unavailable, so Ctrl+C works) and says so on the button.
   - <input type="search"> in an htmx filter form: its change event (on losing focus) goes no further;
   No dependencies; works for content htmx swaps in, as the listeners sit on the document. */
(function () {
  "use strict";
  // The filter forms ask for results as the search field is typed in (hx-trigger "input delay"). The
  // change event that follows when the field loses focus asked once more for the same results, and the
  // answer's history entry (hx-push-url) could cancel the click on a result that took the focus away:
  // the page stayed on the list. Caught on the way down, before the form's htmx listener hears it.
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el instanceof HTMLInputElement && el.type === "search" && el.form && el.form.hasAttribute("hx-trigger")) {
      event.stopPropagation();
    }
  }, true);
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el instanceof HTMLSelectElement && el.hasAttribute("data-autosubmit") && el.form) el.form.submit();
  });
  document.addEventListener("focusin", function (event) {
    var el = event.target;
    if (el instanceof HTMLInputElement && el.hasAttribute("data-select-on-focus")) el.select();
  });
  document.addEventListener("click", function (event) {
    var button = event.target instanceof Element ? event.target.closest("button[data-copy]") : null;
    if (!button) return;
    var field = document.getElementById(button.getAttribute("data-copy"));
    if (!field) return;
    var copied = function () { button.textContent = button.getAttribute("data-copied-text") || button.textContent; };
    field.focus();
    field.select();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(copied, function () {});
    } else if (document.execCommand && document.execCommand("copy")) {
      copied();
    }
  });
  document.addEventListener("click", function (event) {
    var link = event.target instanceof Element ? event.target.closest("a[data-history-back]") : null;
    if (link && window.history.length > 1) {
      event.preventDefault();
      window.history.back();
    }
  });
})();
