"use strict";
const form = document.getElementById("login");
form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const r = await fetch("/login", {method: "POST", headers: {"Content-Type": "application/json"},
                                   body: JSON.stringify({token: form.token.value})});
  if (r.ok) { location.href = form.dataset.next || "/"; return; }
  const err = document.getElementById("login-error");
  err.textContent = "wrong token";
  err.hidden = false;
});
