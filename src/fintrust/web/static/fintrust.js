/* fintrust Markets: two small behaviours. The pages work without them (a link to the bank
   pages, a refreshing return page); no build step, no external resources. */
(function () {
  "use strict";

  /* The deposit checkout (trustly-methods.md section 6): Trustly's pages in our iframe on a wide
     screen; on a small one, the whole window goes to them. "replace" keeps the back button from
     bouncing between this page and the bank pages. */
  var frame = document.getElementById("trustly-checkout");
  if (frame) {
    var url = frame.getAttribute("data-checkout-url");
    var small = parseInt(frame.getAttribute("data-small-screen") || "600", 10);
    if (window.matchMedia("(max-width: " + small + "px)").matches) {
      window.location.replace(url);
    } else {
      frame.src = url;
      frame.hidden = false;
    }
  }

  /* The deposit's return page: "processing" until a notification has settled the deposit.
     Ask every 2 seconds; after 10 minutes, every 15 (the page is probably forgotten). */
  var outcome = document.querySelector("[data-status-url]");
  if (outcome && outcome.getAttribute("data-status") === "processing") {
    var statusUrl = outcome.getAttribute("data-status-url");
    var started = Date.now();

    var show = function (status) {
      outcome.setAttribute("data-status", status);
      outcome.querySelectorAll("[data-show]").forEach(function (part) {
        part.hidden = part.getAttribute("data-show") !== status;
      });
    };

    var poll = function () {
      fetch(statusUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) { throw new Error("status " + response.status); }
          return response.json();
        })
        .then(function (data) {
          outcome.querySelectorAll("[data-field]").forEach(function (field) {
            var value = data[field.getAttribute("data-field")];
            if (value !== null && value !== undefined) { field.textContent = value; }
          });
          if (data.status === "processing") {
            schedule();
          } else {
            show(data.status);
          }
        })
        .catch(schedule); /* a network hiccup: ask again */
    };

    var schedule = function () {
      window.setTimeout(poll, Date.now() - started > 600000 ? 15000 : 2000);
    };

    schedule();
  }
})();
