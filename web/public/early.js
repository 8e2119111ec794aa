// The overview's first requests start here, while the app's scripts are still loading;
// src/api/client.ts takes each answer over once (same URLs as the overview asks). A file of its
// own, not an inline script, so the Content-Security-Policy can forbid inline scripts.
(function () {
  var h = location.hash;
  if (h && h !== '#' && h !== '#/') return;
  var early = (window.__gatherdEarly = {});
  ['api/invocations?limit=15', 'api/stats/summary?window=1d', 'api/quota/latest', 'api/sources'].forEach(function (u) {
    early[u] = fetch(u, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
    early[u].catch(function () {});
  });
})();
