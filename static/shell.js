// The app shell: the service worker (static/sw.js, served at /sw.js: an offline page, nothing
// more), and on a phone the current tab scrolled into the nav strip's view. Loaded with defer,
// so the page is parsed when this runs.
"use strict";

if ("serviceWorker" in navigator && window.isSecureContext) {
  navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {});
}

(() => {
  const strip = document.querySelector(".tabs");
  const current = strip && strip.querySelector("a.active");
  if (!current || strip.scrollWidth <= strip.clientWidth) return;
  const offset = current.getBoundingClientRect().left - strip.getBoundingClientRect().left;
  strip.scrollLeft += offset - (strip.clientWidth - current.offsetWidth) / 2;
})();

// A strip wider than its box fades out at the edge that has more to scroll to (app.css).
for (const strip of document.querySelectorAll(".tabs, .segments, [data-strip]")) {
  const mark = () => {
    const more = strip.scrollWidth - strip.clientWidth;
    strip.classList.toggle("fade-start", more > 1 && strip.scrollLeft > 1);
    strip.classList.toggle("fade-end", more > 1 && strip.scrollLeft < more - 1);
  };
  strip.addEventListener("scroll", mark, { passive: true });
  window.addEventListener("resize", mark);
  mark();
}
