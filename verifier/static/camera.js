// Camera capture: frames go to the server (/api/verify?frame=1) to be decoded; the page shows
// the first result. Nothing is stored in the browser (no cookies, no storage APIs).
"use strict";
(function () {
  const start = document.getElementById("camera-start");
  const stop = document.getElementById("camera-stop");
  const video = document.getElementById("camera-video");
  const status = document.getElementById("camera-status");
  const results = document.getElementById("results");
  if (!start || !video) { return; }
  const canvas = document.createElement("canvas");
  let stream = null;
  let timer = null;
  let busy = false;

  function halt() {
    if (timer) { clearInterval(timer); timer = null; }
    if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); stream = null; }
    video.hidden = true; stop.hidden = true; start.hidden = false;
  }

  function send(blob) {
    const url = start.dataset.api + "?frame=1&html=1&lang=" + encodeURIComponent(start.dataset.lang);
    return fetch(url, { method: "POST", headers: { "Content-Type": "image/jpeg" }, body: blob,
                        credentials: "omit", cache: "no-store" })
      .then(function (r) { return r.json(); })
      .then(function (reply) {
        if (reply.results && reply.results.length) {
          halt();
          status.textContent = "";
          // Server-rendered, auto-escaped markup of the same template the form uses.
          results.innerHTML = reply.html;
          results.scrollIntoView();
        }
      });
  }

  function grab() {
    if (busy || !video.videoWidth) { return; }
    busy = true;
    const scale = Math.min(1, 1600 / Math.max(video.videoWidth, video.videoHeight));
    canvas.width = Math.round(video.videoWidth * scale);
    canvas.height = Math.round(video.videoHeight * scale);
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    canvas.toBlob(function (blob) {
      if (!blob) { busy = false; return; }
      send(blob).catch(function () {}).finally(function () { busy = false; });
    }, "image/jpeg", 0.9);
  }

  start.addEventListener("click", function () {
    status.textContent = start.dataset.starting;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      status.textContent = start.dataset.denied; return;
    }
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })
      .then(function (s) {
        stream = s; video.srcObject = s; video.hidden = false;
        start.hidden = true; stop.hidden = false;
        status.textContent = start.dataset.scanning;
        return video.play();
      })
      .then(function () { timer = setInterval(grab, 700); })
      .catch(function () { halt(); status.textContent = start.dataset.denied; });
  });
  stop.addEventListener("click", function () { halt(); status.textContent = ""; });
})();
