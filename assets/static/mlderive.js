// A formula wider than its line (a long inline formula on a phone) gets the class mlx-wide,
// which makes it scroll inside its own box (see mlderive.css) instead of running off the page.
(function () {
  function fit() {
    document.querySelectorAll("mjx-container").forEach(function (math) {
      math.classList.remove("mlx-wide");
      var parent = math.parentElement.getBoundingClientRect();
      if (math.getBoundingClientRect().width > parent.width + 1) {
        math.classList.add("mlx-wide");
      }
    });
  }
  window.addEventListener("load", function () {
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
      MathJax.startup.promise.then(fit);
      window.addEventListener("resize", fit);
    }
  });
})();
