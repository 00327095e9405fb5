// On the organisation's own page, beside the iframe of the sign-up form: fits the frame to the
// form's height, so its Sign up button is always in view. Only messages from the service that
// served this script are heeded.
"use strict";

(() => {
  const service = new URL(document.currentScript.src).origin;
  window.addEventListener("message", (event) => {
    const height = event.data && event.data.updatesFrameHeight;
    if (event.origin !== service || !Number.isFinite(height) || height <= 0) {
      return;
    }
    for (const frame of document.querySelectorAll("iframe")) {
      if (frame.contentWindow === event.source) {
        frame.style.height = `${Math.min(Math.ceil(height), 10000)}px`;
      }
    }
  });
})();
