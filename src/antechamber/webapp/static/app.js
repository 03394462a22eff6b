// The reference app's only script: progressive enhancement of server-rendered pages.
// Every form works without it (posting to /api/* and following a redirect); with it, forms
// send JSON, show the answer's message in place, disable their button while busy (no double
// submits), check input before sending, and the resend button counts down.
(function () {
  "use strict";

  // A page restored from the back/forward cache must ask the server again: after logging
  // out, Back then shows the sign-in page instead of a stale dashboard.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) {
      window.location.reload();
    }
  });

  var EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
  var PHONE_NOISE = /[\s().\-]/g;
  var E164 = /^\+[1-9][0-9]{6,14}$/;
  var CODE = /^[0-9]{6}$/;

  var messages = document.querySelector("[data-messages]");

  function show(text, kind) {
    if (!messages) {
      return;
    }
    messages.textContent = "";
    if (!text) {
      return;
    }
    var p = document.createElement("p");
    p.className = "alert alert--" + (kind === "error" ? "error" : "notice");
    p.setAttribute("role", kind === "error" ? "alert" : "status");
    p.textContent = text;
    messages.appendChild(p);
  }

  function markInvalid(field) {
    field.setAttribute("aria-invalid", "true");
    var described = (field.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
    if (described.indexOf("messages") < 0) {
      described.unshift("messages");
    }
    field.setAttribute("aria-describedby", described.join(" "));
  }

  function invalid(field, text) {
    markInvalid(field);
    show(text, "error");
    field.focus();
    return true;
  }

  // What the server would refuse anyway, said before the round trip.
  function problem(form) {
    var email = form.querySelector("input[name=email]:not([type=hidden])");
    if (email && !EMAIL.test(email.value.trim())) {
      return invalid(email, "Enter a valid email address, like name@example.com.");
    }
    var name = form.querySelector("input[name=organizationName]");
    if (name && name.value.trim().length < Number(name.getAttribute("minlength") || 1)) {
      return invalid(name, "Give the organization a name of at least " +
        name.getAttribute("minlength") + " characters.");
    }
    var phone = form.querySelector("input[name=phoneNumber]");
    if (phone && !E164.test(phone.value.replace(PHONE_NOISE, ""))) {
      return invalid(phone, "Enter your mobile number in international format: a plus sign, " +
        "the country code and the number, for example +1 202 555 0123.");
    }
    var code = form.querySelector("input[name=code]");
    if (code && !CODE.test(code.value.replace(/\s/g, ""))) {
      return invalid(code, code.getAttribute("data-invalid") ||
        "Enter the 6-digit code from the text message.");
    }
    return false;
  }

  function fields(form) {
    var body = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.disabled) {
        return;
      }
      if (el.type === "checkbox") {
        body[el.name] = el.checked;
      } else if (el.name === "phoneNumber") {
        body[el.name] = el.value.replace(PHONE_NOISE, "");
      } else {
        body[el.name] = el.value.trim();
      }
    });
    return body;
  }

  function busy(form, on) {
    var button = form.querySelector("button[type=submit], button:not([type])");
    if (!button) {
      return;
    }
    if (on) {
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
    } else {
      button.removeAttribute("aria-busy");
      if (!form.dataset.coolingDown) {
        button.disabled = false;
      }
    }
  }

  function cooldown(form, seconds) {
    var button = form.querySelector("[data-resend]");
    var note = document.querySelector("[data-cooldown-note]");
    if (!button || !(seconds > 0)) {
      return;
    }
    var left = Math.ceil(seconds);
    form.dataset.coolingDown = "1";
    button.disabled = true;
    var tick = function () {
      if (left <= 0) {
        delete form.dataset.coolingDown;
        button.disabled = false;
        if (note) {
          note.textContent = "";
        }
        return;
      }
      if (note) {
        note.textContent = "You can ask for a new code in " + left + " second" +
          (left === 1 ? "" : "s") + ".";
      }
      left -= 1;
      window.setTimeout(tick, 1000);
    };
    tick();
  }

  function enhance(form) {
    form.noValidate = true; // our messages replace the browser's bubbles
    if (form.dataset.cooldown) {
      cooldown(form, Number(form.dataset.cooldown));
    }
    form.addEventListener("input", function (event) {
      if (event.target.getAttribute("aria-invalid") === "true") {
        event.target.removeAttribute("aria-invalid");
      }
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (form.getAttribute("aria-busy") === "true" || problem(form)) {
        return;
      }
      form.setAttribute("aria-busy", "true");
      busy(form, true);
      fetch(form.action, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept": "application/json" },
        body: JSON.stringify(fields(form))
      }).then(function (response) {
        return response.json().catch(function () {
          return { message: "Something went wrong on our side. Try again in a moment." };
        }).then(function (data) {
          return { ok: response.ok, status: response.status, data: data };
        });
      }).then(function (result) {
        var data = result.data || {};
        if (data.redirectPath && result.ok) {
          window.location.assign(data.redirectPath);
          return;
        }
        if (data.redirectPath && data.redirectPath.split("?")[0] !== window.location.pathname) {
          // A failure that belongs to another page (the login expired, say): go there, and
          // let that page say what happened.
          var target = data.redirectPath;
          if (data.error && target.indexOf("error=") < 0) {
            target += (target.indexOf("?") < 0 ? "?" : "&") + "error=" + encodeURIComponent(data.error);
          }
          window.location.assign(target);
          return;
        }
        form.removeAttribute("aria-busy");
        busy(form, false);
        show(data.message || "Something went wrong. Try again.", result.ok ? "notice" : "error");
        if (data.retryAfter) {
          cooldown(form, data.retryAfter);
        }
        var first = form.querySelector("input:not([type=hidden])");
        if (first && (result.status === 400 || result.status === 401)) {
          // The answer is about what was typed: point at it.
          markInvalid(first);
          first.focus();
          if (first.name === "code") {
            first.select();
          }
        }
      }).catch(function () {
        form.removeAttribute("aria-busy");
        busy(form, false);
        show("We couldn't reach the server. Check your connection and try again.", "error");
      });
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("form[data-api]"), enhance);

  // Recovery codes: a Copy button, shown only where the clipboard can be written. Nothing is
  // kept in the browser (no storage): the codes go to the clipboard when asked, that's all.
  Array.prototype.forEach.call(document.querySelectorAll("[data-copy]"), function (button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    var note = document.querySelector("[data-copy-note]");
    if (!source || !navigator.clipboard || !window.isSecureContext) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(source.textContent.trim() + "\n").then(function () {
        if (note) {
          note.textContent = "Copied. Paste them somewhere safe.";
        }
      }, function () {
        if (note) {
          note.textContent = "Couldn't copy: select the codes and copy them yourself.";
        }
      });
    });
  });
})();
