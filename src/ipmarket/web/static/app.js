// The only script every page loads. Pages work without it; it adds the service worker so
// the marketplace can be installed to a phone's home screen and shows a page offline.
if ("serviceWorker" in navigator) {
  window.addEventListener("load", function () {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () {});
  });
}
