// The kiosk page: polls the server while a device or the center works, the PIN pad, the
// inactivity warning (WCAG 2.2.1) and the spoken prompts (C11). No data is kept in the
// browser: no storage, no cookies besides the opaque session id set by the server.
(function () {
  "use strict";
  const body = document.body;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const screen = body.dataset.screenName;
  const version = body.dataset.version;

  function post(path) {
    return fetch(path, { method: "POST", headers: { "X-CSRFToken": csrf }, cache: "no-store" });
  }

  // --- follow the server: reload when the screen or its content changed -----------------
  const pollMs = Number(body.dataset.poll) || 2000;
  function tick() {
    fetch("/state", { cache: "no-store" })
      .then((response) => response.json())
      .then((state) => {
        if (String(state.version) !== version || state.screen !== screen) {
          window.location.replace("/");
        } else {
          window.setTimeout(tick, pollMs);
        }
      })
      .catch(() => window.setTimeout(tick, pollMs * 2));
  }
  window.setTimeout(tick, pollMs);

  // The timeout dialog speaks its warning; speech is defined further down.
  let speakWarning = () => {};
  let stopWarning = () => {};

  // --- inactivity: warning with a countdown and a one-tap "continue", then wipe -----------
  const idle = Number(body.dataset.idle) || 0;
  const warning = Number(body.dataset.warning) || 20;
  const overlay = document.querySelector('[data-screen="timeout-warning"]');
  const countdown = document.getElementById("countdown");
  let lastActivity = Date.now();
  let lastPing = Date.now();
  let warnedAt = 0;

  function activity() {
    if (warnedAt) return;
    lastActivity = Date.now();
    if (lastActivity - lastPing > 10000) {
      lastPing = lastActivity;
      post("/keepalive");
    }
  }
  ["pointerdown", "keydown", "touchstart"].forEach((name) =>
    window.addEventListener(name, activity, true)
  );

  function showWarning() {
    warnedAt = Date.now();
    overlay.hidden = false;
    countdown.textContent = String(warning);
    document.getElementById("continue").focus();
    speakWarning();
  }

  document.getElementById("continue").addEventListener("click", () => {
    warnedAt = 0;
    overlay.hidden = true;
    stopWarning();
    lastActivity = lastPing = Date.now();
    post("/keepalive");
  });

  if (idle > 0) {
    window.setInterval(() => {
      const now = Date.now();
      if (!warnedAt && now - lastActivity >= idle * 1000) {
        showWarning();
      } else if (warnedAt) {
        const left = Math.max(0, Math.ceil((warnedAt + warning * 1000 - now) / 1000));
        countdown.textContent = String(left);
        if (left <= 0) {
          warnedAt = Number.MAX_SAFE_INTEGER; // submit once
          document.getElementById("timeout-form").submit();
        }
      }
    }, 250);
  }

  // --- spoken prompts (C11): recordings made at build time from the same catalogue ---------
  // The server embeds, per data-prompt id, the files to play (NUMBER "#" marks where the amount
  // is said) and the recorded numbers of the amounts this page may show. A prompt without a
  // current recording is marked data-prompt-state="unplayable" and never played.
  const promptData = JSON.parse(document.getElementById("prompt-data").textContent || "{}");
  const speechOn = body.dataset.speech === "on";
  let queue = [];
  let current = null;
  const started = new Set();

  function playlist(element) {
    const id = element.dataset.prompt;
    const files = (promptData.prompts || {})[id];
    // The countdown's seconds are the configured warning unless the element names its number.
    const amount = element.dataset.amount || (id === "timeout-warning" ? body.dataset.warning : "");
    const said = (promptData.numbers || {})[amount];
    if (!files || (files.includes("#") && !said)) {
      element.dataset.promptState = "unplayable";
      return [];
    }
    return files.flatMap((file) => (file === "#" ? said : [file]))
      .map((file) => ({ id: id, src: body.dataset.audio + file }));
  }
  function stopSpeaking() {
    queue = [];
    if (current) current.pause();
    current = null;
  }
  function playNext() {
    const item = queue.shift();
    if (!item) { current = null; return; }
    const audio = new Audio(item.src);
    current = audio;
    audio.addEventListener("playing", () => {
      started.add(item.id);
      body.dataset.promptPlayed = Array.from(started).join(" ");
    }, { once: true });
    audio.addEventListener("ended", () => { if (current === audio) playNext(); });
    audio.addEventListener("error", () => { if (current === audio) playNext(); });
    const playing = audio.play();
    if (playing && playing.catch) playing.catch(() => { if (current === audio) playNext(); });
  }
  function speak(elements) {
    stopSpeaking();
    elements.forEach((element) => spoken.add(element));
    if (!speechOn) {
      body.dataset.promptSilenced = "true"; // the resident turned the voice off (tests wait on it)
      return;
    }
    elements.forEach((element) => { queue = queue.concat(playlist(element)); });
    playNext();
  }
  // A notice that appears without a reload (e.g. live on the welcome screen) is said too,
  // after whatever is being said.
  const spoken = new WeakSet();
  function sayLater(element) {
    if (!speechOn || spoken.has(element) || element.closest("[hidden]")) return;
    spoken.add(element);
    queue = queue.concat(playlist(element));
    if (!current) playNext();
  }
  const promptsIn = (node) => (node.nodeType !== 1 ? [] : [
    ...(node.matches("[data-prompt]") ? [node] : []), ...node.querySelectorAll("[data-prompt]"),
  ]);
  new MutationObserver((changes) => changes.forEach((change) => {
    if (change.type === "attributes") {
      // Shown again later: said again then.
      promptsIn(change.target).forEach((element) => {
        if (element.closest("[hidden]")) spoken.delete(element); else sayLater(element);
      });
    } else {
      change.addedNodes.forEach((node) => promptsIn(node).forEach(sayLater));
    }
  })).observe(document.querySelector("main"), {
    childList: true, subtree: true, attributes: true, attributeFilter: ["hidden"],
  });
  function screenPrompts() {
    return Array.from(document.querySelectorAll("main [data-prompt]"))
      .filter((element) => !element.closest("[hidden]"));
  }
  const timeoutPrompt = () => Array.from(overlay.querySelectorAll("[data-prompt]"));
  document.getElementById("replay").addEventListener("click", () =>
    speak(overlay.hidden ? screenPrompts() : timeoutPrompt())
  );
  speakWarning = () => speak(timeoutPrompt());
  stopWarning = stopSpeaking;
  window.setTimeout(() => { if (overlay.hidden) speak(screenPrompts()); }, 300);
  if (screen === "take-card" || screen === "take-certificate") {
    // The reminders repeat until the card or certificate is taken (C11).
    window.setInterval(() => { if (!current && overlay.hidden) speak(screenPrompts()); }, 12000);
  }

  // --- the PIN pad: digits stay in this page until "OK" sends them (C01, C04) -------------
  const pinForm = document.getElementById("pin-form");
  if (pinForm) {
    const value = document.getElementById("pin-value");
    const display = document.getElementById("pin-display");
    const submit = document.getElementById("pin-submit");
    const dots = display.querySelectorAll("span");
    const render = () => {
      dots.forEach((dot, i) => dot.classList.toggle("filled", i < value.value.length));
      display.setAttribute("aria-label", display.dataset.label + ": " + value.value.length + " / 4");
      submit.disabled = value.value.length !== 4;
    };
    const add = (digit) => {
      if (value.value.length < 4) value.value += digit;
      render();
    };
    pinForm.querySelectorAll("[data-digit]").forEach((button) =>
      button.addEventListener("click", () => add(button.dataset.digit))
    );
    document.getElementById("pin-clear").addEventListener("click", () => {
      value.value = "";
      render();
    });
    window.addEventListener("keydown", (event) => {
      if (/^[0-9]$/.test(event.key)) add(event.key);
      else if (event.key === "Backspace") { value.value = value.value.slice(0, -1); render(); }
      else if (event.key === "Enter" && value.value.length === 4) pinForm.requestSubmit();
    });
    pinForm.addEventListener("submit", () => {
      submit.disabled = true;
      window.setTimeout(() => { value.value = ""; }, 0); // the page forgets the digits at once
    });
    render();
  }

  // Screen readers and keyboards start at the new screen's content.
  const main = document.getElementById("screen");
  if (main && screen !== "welcome") main.focus({ preventScroll: true });
})();
