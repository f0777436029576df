// The demo shop's behaviour, broken on purpose in places, and the SDK.
import { init } from "/ufse.js";

const $ = (id) => document.getElementById(id);
const status = (text) => ($("status").textContent = text);

// Works: the quantity stepper.
let qty = 1;
$("qty-minus").onclick = () => ($("qty-value").textContent = qty = Math.max(1, qty - 1));
$("qty-plus").onclick = () => ($("qty-value").textContent = ++qty);

// Works: add to cart updates the badge and calls the backend.
$("add-to-cart").onclick = async () => {
  $("cart-count").textContent = Number($("cart-count").textContent) + qty;
  await fetch("/api/ok", { method: "POST" });
  status("Added to cart.");
};

// Broken: does nothing at all (a dead click; clicked again and again, rage).
$("apply-coupon").onclick = () => {};

// Broken: throws (an error click).
$("checkout").onclick = () => {
  const cart = undefined;
  return cart.items.length;
};

// Broken: the backend answers 500 and the page says nothing (a failed request).
$("save-later").onclick = () => fetch("/api/fail", { method: "POST" });

// Slow: the answer shows after 1.5 s (a slow click).
$("check-stock").onclick = async () => {
  const r = await (await fetch("/api/slow")).json();
  status(`${r.in_stock} in stock.`);
};

$("gift").onsubmit = (e) => {
  e.preventDefault();
  status("Message saved.");
};

const { key, endpoint } = document.body.dataset;
window.ufseReady = init({ key, endpoint, release: "demo-shop@1" });
