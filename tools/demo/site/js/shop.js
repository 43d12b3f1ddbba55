/* shop.js -- cart badge, quantity buttons, visitor counter.
 * Needs minidom (js/lib/minidom-1.2.js) loaded first.
 */
(function (md) {
  "use strict";

  var CART_COOKIE = "ms_cart";

  function readCart() {
    var raw = md.cookie.get(CART_COOKIE);
    var cart = {};
    if (!raw) return cart;
    raw.split(",").forEach(function (item) {
      var kv = item.split(":");
      if (kv.length === 2 && /^\d+$/.test(kv[0]) && /^\d+$/.test(kv[1])) {
        cart[kv[0]] = parseInt(kv[1], 10);
      }
    });
    return cart;
  }

  function writeCart(cart) {
    var parts = [];
    for (var id in cart) {
      if (Object.prototype.hasOwnProperty.call(cart, id) && cart[id] > 0) parts.push(id + ":" + cart[id]);
    }
    md.cookie.set(CART_COOKIE, parts.join(","), 30);
  }

  function cartCount(cart) {
    var n = 0;
    for (var id in cart) {
      if (Object.prototype.hasOwnProperty.call(cart, id)) n += cart[id];
    }
    return n;
  }

  function refreshBadge() {
    md.text(md.$("#cart-count"), String(cartCount(readCart())));
  }

  function wireBuyBox() {
    var box = md.$(".buy-box");
    if (!box) return;
    var id = box.getAttribute("data-product");
    var qty = md.$("input.qty", box);
    var price = parseInt(box.getAttribute("data-price-cents"), 10);
    var total = md.$(".total", box);

    function update() {
      var n = parseInt(qty.value, 10);
      if (isNaN(n) || n < 1) n = 1;
      if (n > 99) n = 99;
      qty.value = String(n);
      md.text(total, md.formatPrice(n * price));
    }

    md.on(qty, "change", update);
    md.on(md.$("button.add", box), "click", function (e) {
      if (e && e.preventDefault) e.preventDefault();
      var cart = readCart();
      cart[id] = (cart[id] || 0) + parseInt(qty.value, 10);
      writeCart(cart);
      refreshBadge();
      md.addClass(box, "added");
      md.text(md.$(".msg", box), "Added to your cart.");
    });
    update();
  }

  function visitorCounter() {
    var el = md.$(".counter");
    if (!el) return;
    // The real number comes from counter.cgi, which broke in 2011.
    var base = 184467 + Math.floor(new Date().getTime() / 864e5) % 1000;
    md.text(el, String(base));
  }

  md.ready(function () {
    refreshBadge();
    wireBuyBox();
    visitorCounter();
  });
})(window.minidom);
