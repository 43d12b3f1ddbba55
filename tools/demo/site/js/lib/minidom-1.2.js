/*!
 * minidom 1.2 -- tiny DOM helpers for sites that predate the frameworks.
 * (c) 2007 Miller & Sons web team. Public domain.
 */
(function (window, document) {
  "use strict";

  function $(sel, root) {
    root = root || document;
    if (sel.charAt(0) === "#" && sel.indexOf(" ") < 0) {
      return root.getElementById ? root.getElementById(sel.slice(1)) : null;
    }
    return root.querySelector ? root.querySelector(sel) : null;
  }

  function $$(sel, root) {
    root = root || document;
    var list = root.querySelectorAll ? root.querySelectorAll(sel) : [];
    return Array.prototype.slice.call(list);
  }

  function on(el, type, fn) {
    if (!el) return;
    if (el.addEventListener) el.addEventListener(type, fn, false);
    else if (el.attachEvent) el.attachEvent("on" + type, fn);
  }

  function ready(fn) {
    if (document.readyState === "complete" || document.readyState === "interactive") {
      setTimeout(fn, 0);
    } else {
      on(document, "DOMContentLoaded", fn);
    }
  }

  function text(el, value) {
    if (!el) return "";
    if (value === undefined) return el.textContent || el.innerText || "";
    if ("textContent" in el) el.textContent = value;
    else el.innerText = value;
    return value;
  }

  function hasClass(el, c) {
    return (" " + el.className + " ").indexOf(" " + c + " ") >= 0;
  }

  function addClass(el, c) {
    if (el && !hasClass(el, c)) el.className = (el.className + " " + c).replace(/^\s+/, "");
  }

  function removeClass(el, c) {
    if (!el) return;
    el.className = (" " + el.className + " ").replace(" " + c + " ", " ").replace(/^\s+|\s+$/g, "");
  }

  var cookie = {
    get: function (name) {
      var parts = document.cookie ? document.cookie.split("; ") : [];
      for (var i = 0; i < parts.length; i++) {
        var eq = parts[i].indexOf("=");
        if (parts[i].slice(0, eq) === name) return decodeURIComponent(parts[i].slice(eq + 1));
      }
      return null;
    },
    set: function (name, value, days) {
      var exp = "";
      if (days) {
        var d = new Date();
        d.setTime(d.getTime() + days * 864e5);
        exp = "; expires=" + d.toUTCString();
      }
      document.cookie = name + "=" + encodeURIComponent(value) + exp + "; path=/";
    }
  };

  function formatPrice(cents) {
    var s = String(Math.round(cents));
    while (s.length < 3) s = "0" + s;
    return "$" + s.slice(0, -2) + "." + s.slice(-2);
  }

  window.minidom = {
    version: "1.2",
    $: $,
    $$: $$,
    on: on,
    ready: ready,
    text: text,
    hasClass: hasClass,
    addClass: addClass,
    removeClass: removeClass,
    cookie: cookie,
    formatPrice: formatPrice
  };
})(window, document);
