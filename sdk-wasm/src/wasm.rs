//! The module's exports: one thin wrapper per [`Core`] operation, with
//! short names (they are bytes in every page that loads the SDK). The glue
//! in `js/ufse.js` is their only caller; single-threaded, as a page is.
//! String arguments arrive in [`INPUT`], their UTF-8 length as `len`.

use core::ptr::{addr_of, addr_of_mut};

use crate::gzip::{Gzip, MAX_IN};
use crate::{Core, Slot, Text, INPUT_BYTES};

static mut CORE: Core = Core::new();
static mut INPUT: [u8; INPUT_BYTES] = [0; INPUT_BYTES];
static mut ZIP: Gzip = Gzip::new();
static mut ZIN: [u8; MAX_IN] = [0; MAX_IN];

// SAFETY (the accessors): wasm32-unknown-unknown has one thread, and
// no export keeps a reference past its own call; the only mutable one to
// a static is never alive together with another reference to that static.
fn core() -> &'static mut Core {
    unsafe { &mut *addr_of_mut!(CORE) }
}

/// The first `len` bytes of an area the glue wrote, at most all of it.
fn head(area: &'static [u8], len: u32) -> &'static [u8] {
    &area[..(len as usize).min(area.len())]
}

/// The string argument `input[..len]`.
fn arg(len: u32) -> &'static [u8] {
    head(unsafe { &*addr_of!(INPUT) }, len)
}

fn zip() -> &'static mut Gzip {
    unsafe { &mut *addr_of_mut!(ZIP) }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}

/// Address of the input area, where string arguments go.
#[no_mangle]
pub extern "C" fn input() -> *mut u8 {
    addr_of_mut!(INPUT).cast()
}

/// Address of the last batch ([`Core::batch`] gives its length).
#[no_mangle]
pub extern "C" fn out() -> *const u8 {
    core().out().as_ptr()
}

/// [`Core::set`] (a value too long for its field leaves it empty).
#[no_mangle]
pub extern "C" fn set(slot: u32, len: u32) {
    if let Some(s) = Slot::from_abi(slot) {
        core().set(s, arg(len));
    }
}

/// [`Core::seq`].
#[no_mangle]
pub extern "C" fn seq() -> f64 {
    core().seq() as f64
}

/// [`Core::set_seq`].
#[no_mangle]
pub extern "C" fn set_seq(seq: f64) {
    core().set_seq(seq as u64)
}

/// [`Core::lost`].
#[no_mangle]
pub extern "C" fn lost(n: u32) {
    core().lost(n)
}

/// [`Core::pending`].
#[no_mangle]
pub extern "C" fn pending() -> u32 {
    core().pending()
}

/// [`Core::event`].
#[no_mangle]
pub extern "C" fn ev(kind: u32, ts: f64) {
    core().event(kind, ts)
}

/// [`Core::num`].
#[no_mangle]
pub extern "C" fn num(name: u32, v: f64) {
    core().num(name, v)
}

/// [`Core::str`], `mode` as [`Text::from_abi`].
#[no_mangle]
pub extern "C" fn str(name: u32, len: u32, mode: u32) {
    core().str(name, arg(len), Text::from_abi(mode))
}

/// [`Core::raw`].
#[no_mangle]
pub extern "C" fn raw(name: u32, len: u32) {
    core().raw(name, arg(len))
}

/// [`Core::flag`].
#[no_mangle]
pub extern "C" fn flag(name: u32, v: u32) {
    core().flag(name, v != 0)
}

/// [`Core::el`]; returns 1 when it repeated the last description.
#[no_mangle]
pub extern "C" fn el(same: u32) -> u32 {
    core().el(same != 0) as u32
}

/// [`Core::close`].
#[no_mangle]
pub extern "C" fn close() {
    core().close()
}

/// [`Core::done`], as its number.
#[no_mangle]
pub extern "C" fn done() -> u32 {
    core().done() as u32
}

/// [`Core::batch`].
#[no_mangle]
pub extern "C" fn batch(sent_at: f64) -> u32 {
    core().batch(sent_at)
}

/// Address of the area [`gz`] compresses from.
#[no_mangle]
pub extern "C" fn zin() -> *mut u8 {
    addr_of_mut!(ZIN).cast()
}

/// Gzips the first `len` bytes at [`zin`] (a batch the glue wrote there);
/// returns the length of the result, which is at [`zout`].
#[no_mangle]
pub extern "C" fn gz(len: u32) -> u32 {
    zip().compress(head(unsafe { &*addr_of!(ZIN) }, len)).len() as u32
}

/// Address of [`gz`]'s last result.
#[no_mangle]
pub extern "C" fn zout() -> *const u8 {
    zip().output().as_ptr()
}
