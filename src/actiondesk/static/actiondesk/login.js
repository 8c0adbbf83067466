// Sign-in: post the form as JSON, then go home (the session cookie is set by the server).
const form = document.getElementById("login-form");
const error = document.getElementById("login-error");

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  const body = { email: form.email.value, password: form.password.value };
  let response;
  try {
    response = await fetch(form.dataset.api, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
  } catch {
    error.textContent = "The server cannot be reached.";
    error.hidden = false;
    return;
  }
  if (response.ok) {
    window.location.assign(form.dataset.home);
    return;
  }
  const payload = await response.json().catch(() => ({}));
  error.textContent = payload.error || "Sign-in failed.";
  error.hidden = false;
});
