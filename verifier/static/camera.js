// The camera at the gate (docs/verifier.md, "Web page"). Where the browser has a QR decoder
// (BarcodeDetector) only the decoded texts are sent ({"texts": [...]}); elsewhere frames go to
// the server (/api/verify?frame=1) to be decoded. One verdict per sheet is shown; it clears when
// the next scan starts and after data-reset-seconds. Nothing is stored in the browser (no
// cookies, no storage APIs).
"use strict";
(function () {
  const start = document.getElementById("camera-start");
  const stop = document.getElementById("camera-stop");
  const video = document.getElementById("camera-video");
  const status = document.getElementById("camera-status");
  const results = document.getElementById("results");
  const retry = document.getElementById("retry");
  const nextBar = document.getElementById("next-bar");
  const next = document.getElementById("scan-next");
  const sound = document.getElementById("sound");
  if (!start || !video) { return; }
  const text = start.dataset;
  const timeoutMs = parseInt(text.timeoutMs, 10) || 5000;
  const resetSeconds = parseInt(text.resetSeconds, 10) || 0;
  const canvas = document.createElement("canvas");
  // Codes seen this long after the first are sent with it: a sheet has two.
  const GATHER_MS = 600;
  let stream = null;
  let timer = null;
  let busy = false;
  let resetTimer = null;
  let lastRequest = null;
  let detector = null;
  let gathered = null;
  // Each scan has its number: an answer for an earlier scan never shows over a later one.
  let generation = 0;

  function localTimes() {
    // The server states the time of the check in UTC; the agent's clock first, UTC after.
    results.querySelectorAll("[data-at][data-local]").forEach(function (node) {
      const at = new Date(node.dataset.at);
      if (!isNaN(at)) {
        node.textContent = node.dataset.local.replace("{local}", at.toLocaleString(text.lang));
      }
    });
  }

  // One AudioContext, made (or resumed) in the tap on "Start camera": iOS keeps a context
  // created outside a user gesture, such as after the check's request, suspended and silent.
  let audio = null;
  function unlockSound() {
    if (!sound || !sound.checked) { return; }
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) { return; }
    try {
      if (!audio) { audio = new Context(); }
      if (audio.state === "suspended") { audio.resume().catch(function () {}); }
    } catch (e) { audio = null; /* no sound is not an error */ }
  }

  function beep(verdict) {
    if (!sound || !sound.checked || !audio) { return; }
    try {
      // Valid: two short high tones; not valid: one long low tone.
      const tones = verdict === "invalid" ? [[220, 0, 0.6]] :
        (verdict === "valid" ? [[880, 0, 0.12], [1320, 0.16, 0.12]] : [[660, 0, 0.2], [660, 0.3, 0.2]]);
      tones.forEach(function (tone) {
        const osc = audio.createOscillator();
        const gain = audio.createGain();
        osc.frequency.value = tone[0];
        gain.gain.value = 0.2;
        osc.connect(gain); gain.connect(audio.destination);
        osc.start(audio.currentTime + tone[1]);
        osc.stop(audio.currentTime + tone[1] + tone[2]);
      });
    } catch (e) { /* no sound is not an error */ }
  }

  function clearResult() {
    if (resetTimer) { clearTimeout(resetTimer); resetTimer = null; }
    results.innerHTML = "";
    if (nextBar) { nextBar.hidden = true; }
    retry.hidden = true;
  }

  function halt() {
    if (timer) { clearInterval(timer); timer = null; }
    if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); stream = null; }
    gathered = null;
    video.hidden = true; stop.hidden = true; start.hidden = false;
  }

  function show(reply) {
    halt();
    status.textContent = "";
    // Server-rendered, auto-escaped markup of the same template the form uses.
    results.innerHTML = reply.html;
    localTimes();
    if (nextBar) { nextBar.hidden = false; }
    window.scrollTo(0, 0);
    // halt() hid the focused Stop button: keyboard focus goes to "scan next", not to <body>.
    if (next) { next.focus({ preventScroll: true }); }
    beep(reply.verdict);
    if (resetSeconds > 0) {
      resetTimer = setTimeout(function () {
        clearResult();
        status.textContent = text.ready;
      }, resetSeconds * 1000);
    }
  }

  // Every failure is said, with its reason and the retry: the page never waits silently.
  function unreachable(failure) {
    if (failure && failure.generation !== undefined && failure.generation !== generation) { return; }
    halt();
    const refused = failure && failure.cause && failure.cause.refused;
    status.textContent = refused === 429 ? text.rateLimited : (refused ? text.refused : text.unreachable);
    status.classList.add("problem");
    retry.hidden = false;
    retry.focus();
  }

  // One request with a deadline: a server that does not answer is said within seconds.
  function post(request) {
    lastRequest = request;
    const mine = generation;
    const controller = new AbortController();
    const deadline = setTimeout(function () { controller.abort(); }, timeoutMs);
    const url = text.api + "?html=1&lang=" + encodeURIComponent(text.lang) +
      (request.frame ? "&frame=1" : "");
    return fetch(url, { method: "POST", headers: { "Content-Type": request.type },
                        body: request.body, credentials: "omit", cache: "no-store",
                        signal: controller.signal })
      .then(function (r) {
        // Any refusal (429 rate limited, 413, 400, 5xx) is a failed check, not a verdict.
        if (!r.ok) { throw { refused: r.status }; }
        return r.json();
      })
      .then(function (reply) {
        if (!reply || !Array.isArray(reply.results)) { throw { refused: true }; }
        reply.generation = mine; return reply;
      },
            function (error) { throw { generation: mine, cause: error }; })
      .finally(function () { clearTimeout(deadline); });
  }

  function handle(reply) {
    if (reply.generation !== generation) { return; }
    status.classList.remove("problem");
    if (reply.results && reply.results.length) { show(reply); }
  }

  // Decoded texts always get a verdict; an answer without one is a failed check (the scan
  // has already stopped, so waiting on would hang).
  function handleTexts(reply) {
    if (reply.generation === generation && !reply.results.length) {
      throw { generation: reply.generation, cause: { refused: true } };
    }
    handle(reply);
  }

  function sendTexts(texts) {
    status.textContent = text.checking;
    return post({ type: "application/json", body: JSON.stringify({ texts: texts }) })
      .then(handleTexts);
  }

  function sendFrame(blob) {
    return post({ type: "image/jpeg", body: blob, frame: true }).then(handle);
  }

  function detect() {
    if (busy || !video.videoWidth) { return; }
    busy = true;
    detector.detect(video).then(function (codes) {
      const found = codes.map(function (c) { return c.rawValue; }).filter(Boolean);
      if (!found.length) { return; }
      if (!gathered) {
        gathered = { texts: [], until: Date.now() + GATHER_MS };
      }
      found.forEach(function (value) {
        if (gathered.texts.indexOf(value) < 0) { gathered.texts.push(value); }
      });
    }).catch(function () { /* a frame the detector cannot read */ }).finally(function () {
      if (gathered && Date.now() >= gathered.until) {
        const texts = gathered.texts.slice(0, 8);
        if (timer) { clearInterval(timer); timer = null; }
        gathered = null;
        sendTexts(texts).catch(unreachable).finally(function () { busy = false; });
        return;
      }
      busy = false;
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
      sendFrame(blob).catch(unreachable).finally(function () { busy = false; });
    }, "image/jpeg", 0.9);
  }

  function cameraProblem(error) {
    halt();
    const name = error && error.name;
    if (name === "NotAllowedError" || name === "SecurityError" || name === "PermissionDeniedError") {
      status.textContent = text.denied;
    } else if (name === "NotFoundError" || name === "DevicesNotFoundError" || name === "OverconstrainedError") {
      status.textContent = text.noCamera;
    } else if (name === "NotReadableError" || name === "TrackStartError") {
      status.textContent = text.busy;
    } else {
      status.textContent = text.failed;
    }
    status.classList.add("problem");
  }

  function openCamera() {
    // At least 1280x720 where the camera has it (a rotated, dim code needs the pixels); a
    // camera that cannot is asked again without the minimum.
    const wanted = { facingMode: { ideal: "environment" },
                     width: { min: 1280, ideal: 1920 }, height: { min: 720, ideal: 1080 } };
    return navigator.mediaDevices.getUserMedia({ video: wanted, audio: false })
      .catch(function (error) {
        if (error && error.name === "OverconstrainedError") {
          return navigator.mediaDevices.getUserMedia({
            video: { facingMode: { ideal: "environment" }, width: { ideal: 1920 },
                     height: { ideal: 1080 } }, audio: false });
        }
        throw error;
      });
  }

  function chooseDecoder() {
    if (!("BarcodeDetector" in window)) { return Promise.resolve(null); }
    return window.BarcodeDetector.getSupportedFormats().then(function (formats) {
      return formats.indexOf("qr_code") >= 0 ? new window.BarcodeDetector({ formats: ["qr_code"] }) : null;
    }).catch(function () { return null; });
  }

  function begin() {
    generation += 1;
    clearResult();
    status.classList.remove("problem");
    status.textContent = text.starting;
    if (!window.isSecureContext) { status.textContent = text.insecure; status.classList.add("problem"); return; }
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      status.textContent = text.noCamera; status.classList.add("problem"); return;
    }
    Promise.all([openCamera(), chooseDecoder()])
      .then(function (opened) {
        stream = opened[0]; detector = opened[1];
        video.srcObject = stream; video.hidden = false;
        start.hidden = true; stop.hidden = false;
        document.body.dataset.decoder = detector ? "browser" : "server";
        status.textContent = text.scanning;
        return video.play();
      })
      .then(function () {
        const tick = detector ? detect : grab;
        timer = setInterval(tick, detector ? 150 : 700);
        tick();  // the first frame now, not a tick later
      })
      .catch(cameraProblem);
  }

  start.addEventListener("click", function () { unlockSound(); begin(); });
  stop.addEventListener("click", function () { generation += 1; halt(); status.textContent = ""; });
  if (sound) { sound.addEventListener("change", unlockSound); }
  retry.addEventListener("click", function () {
    unlockSound();
    retry.hidden = true;
    status.classList.remove("problem");
    if (lastRequest && !lastRequest.frame) {
      status.textContent = text.checking;
      post(lastRequest).then(handleTexts).catch(unreachable);
    } else {
      begin();
    }
  });
  if (next) {
    next.addEventListener("click", function (event) {
      event.preventDefault();
      unlockSound();
      begin();
    });
  }
})();
