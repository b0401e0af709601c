// Demo panel: plays the devices through /demo/api (demo mode only).
(function () {
  "use strict";
  const status = document.getElementById("status");
  const frame = document.getElementById("kiosk-frame");
  const printout = document.getElementById("printout");
  function call(path, body) {
    return fetch("/demo/api/" + path, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Kiosk-Demo": "1" },
      body: JSON.stringify(body || {}),
    }).then((r) => r.json());
  }
  function refresh() {
    fetch("/demo/api/status", { cache: "no-store" })
      .then((r) => r.json())
      .then((s) => { status.textContent = JSON.stringify(s, null, 2); })
      .catch(() => {});
  }
  document.querySelectorAll("[data-demo]").forEach((button) => {
    button.addEventListener("click", () => {
      const kind = button.dataset.demo;
      let done;
      if (kind === "insert-card") done = call("card", { card: document.getElementById("card-key").value });
      else if (kind === "remove-card") done = call("card/remove");
      else if (kind === "cash") done = call("cash", { yen: Number(button.dataset.yen) });
      else if (kind === "jam") done = call("printer/jam", { times: 1 });
      else if (kind === "take-paper") {
        done = call("paper/take").then((answer) => {
          if (answer.documents && answer.documents.length) {
            const bytes = Uint8Array.from(atob(answer.documents[0]), (c) => c.charCodeAt(0));
            printout.src = URL.createObjectURL(new Blob([bytes], { type: "application/pdf" }));
            printout.hidden = false;
          }
          return answer;
        });
      }
      if (done) done.then(refresh);
    });
  });
  frame.addEventListener("load", refresh);
  window.setInterval(refresh, 2000);
  refresh();
})();
