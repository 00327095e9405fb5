// What every page does: after a refused form, focus moves to the list of its errors (or, with no
// list, to the first field in error); on a phone, the console's current page is scrolled into
// view and wide tables take the keyboard; and the sign-up form in another site's iframe tells that
// site its height (embed.js there sets the frame's).
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const refused =
    document.querySelector(".error-summary") ||
    document.querySelector(".field-error :is(input:not([type=hidden]), textarea, select)");
  if (refused) {
    refused.focus();
  }

  const current = document.querySelector(".console-bar [aria-current='page']");
  const phone = window.matchMedia("(max-width: 59.99rem)");
  const reveal = () => {
    if (current && phone.matches) {
      current.scrollIntoView({ block: "nearest", inline: "nearest" });
    }
  };
  reveal();
  phone.addEventListener("change", reveal);

  // A table or chart wider than a phone scrolls within itself: the keyboard must reach it.
  const scrollers = document.querySelectorAll("table, figure.chart");
  const reachable = new ResizeObserver(() => {
    for (const box of scrollers) {
      if (box.scrollWidth > box.clientWidth) {
        box.tabIndex = 0;
      } else {
        box.removeAttribute("tabindex");
      }
    }
  });
  scrollers.forEach((box) => reachable.observe(box));

  if (document.body.classList.contains("embedded") && window.parent !== window) {
    const tell = () => {
      const height = Math.ceil(document.documentElement.getBoundingClientRect().height);
      window.parent.postMessage({ updatesFrameHeight: height }, "*");
    };
    new ResizeObserver(tell).observe(document.documentElement);
    window.addEventListener("load", tell);
  }
});
