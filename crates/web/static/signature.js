// The sign page's script: signature drawing, and the focus on the error summary.
// Progressive enhancement: without this script the page offers only a typed signature,
// which always works (and works by keyboard alone).
(function () {
  "use strict";
  // After a refused submission, take the focus to the list of problems (as GOV.UK pages
  // do): it sits below the whole policy text and would otherwise be seen and heard last.
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }

  // A kiosk screen that ends a visit goes back to the start by itself, so the next
  // visitor finds the welcome screen: its "Done" link says after how many seconds.
  var done = document.querySelector("a[data-return-after]");
  if (done) {
    var seconds = parseInt(done.getAttribute("data-return-after"), 10);
    if (seconds > 0) {
      window.setTimeout(function () { window.location.assign(done.href); }, seconds * 1000);
    }
  }

  var form = document.getElementById("sign-form");
  var canvas = document.getElementById("signature-canvas");
  if (!form || !canvas || !canvas.getContext) { return; }

  var drawOption = document.getElementById("draw-option");
  var drawnRadio = document.getElementById("signature_kind-drawn");
  var typedRadio = document.getElementById("signature_kind-typed");
  var drawnPanel = document.getElementById("drawn-panel");
  var typedPanel = document.getElementById("typed-panel");
  var output = document.getElementById("signature_png");
  var clear = document.getElementById("clear-signature");
  var ctx = canvas.getContext("2d");
  var drawing = false;
  var hasInk = false;

  drawOption.hidden = false;

  function showPanels() {
    var drawn = drawnRadio.checked;
    drawnPanel.hidden = !drawn;
    typedPanel.hidden = drawn;
  }
  drawnRadio.addEventListener("change", showPanels);
  typedRadio.addEventListener("change", showPanels);
  showPanels();

  ctx.lineWidth = 2.5;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.strokeStyle = "#0b0c0c";

  function point(event) {
    var rect = canvas.getBoundingClientRect();
    return {
      x: (event.clientX - rect.left) * (canvas.width / rect.width),
      y: (event.clientY - rect.top) * (canvas.height / rect.height)
    };
  }

  canvas.addEventListener("pointerdown", function (event) {
    drawing = true;
    canvas.setPointerCapture(event.pointerId);
    var p = point(event);
    ctx.beginPath();
    ctx.moveTo(p.x, p.y);
    event.preventDefault();
  });
  canvas.addEventListener("pointermove", function (event) {
    if (!drawing) { return; }
    var p = point(event);
    ctx.lineTo(p.x, p.y);
    ctx.stroke();
    hasInk = true;
    event.preventDefault();
  });
  function stop() { drawing = false; }
  canvas.addEventListener("pointerup", stop);
  canvas.addEventListener("pointercancel", stop);

  clear.addEventListener("click", function () {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    hasInk = false;
    output.value = "";
  });

  form.addEventListener("submit", function () {
    output.value = drawnRadio.checked && hasInk ? canvas.toDataURL("image/png") : "";
  });
})();
