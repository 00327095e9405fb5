// What every page does: after a refused form, focus moves to the list of its errors; on a phone,
// the console's current page is scrolled into view and wide tables take the keyboard; and the sign-up form
// in another site's iframe tells that site how tall it is (embed.js there sets the frame's height).
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const summary = document.querySelector(".error-summary");
  if (summary) {
    summary.focus();
  }

  const current = document.querySelector(".console-bar [aria-current='page']");
  if (current && current.offsetParent && window.matchMedia("(max-width: 59.99rem)").matches) {
    current.scrollIntoView({ block: "nearest", inline: "center" });
  }

  // A table wider than a phone scrolls within itself: the keyboard must reach it to scroll it.
  const tables = document.querySelectorAll("table");
  const reachable = new ResizeObserver(() => {
    for (const table of tables) {
      if (table.scrollWidth > table.clientWidth) {
        table.tabIndex = 0;
      } else {
        table.removeAttribute("tabindex");
      }
    }
  });
  tables.forEach((table) => reachable.observe(table));

  if (document.body.classList.contains("embedded") && window.parent !== window) {
    const tell = () => {
      const height = Math.ceil(document.documentElement.getBoundingClientRect().height);
      window.parent.postMessage({ updatesFrameHeight: height }, "*");
    };
    new ResizeObserver(tell).observe(document.documentElement);
    window.addEventListener("load", tell);
  }
});
