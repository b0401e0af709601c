// Wall screen mode (?wall=1): reload the page every data-seconds seconds.
(function () {
  var me = document.currentScript;
  var seconds = Number((me && me.dataset.seconds) || 30);
  setTimeout(function () { window.location.reload(); }, seconds * 1000);
})();
