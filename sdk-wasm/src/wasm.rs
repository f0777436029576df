//! The module's exports: one thin wrapper per [`Core`] operation, with
//! short names (they are bytes in every page that loads the SDK). The glue
//! in `js/ufse.js` is their only caller; single-threaded, as a page is.

use core::ptr::addr_of_mut;

use crate::{Core, Slot, Text};

static mut CORE: Core = Core::new();

fn core() -> &'static mut Core {
    // SAFETY: wasm32-unknown-unknown has one thread, and no export keeps
    // the reference past its own call, so there is never a second one.
    unsafe { &mut *addr_of_mut!(CORE) }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}

/// Address of [`Core::input`], where string arguments go.
#[no_mangle]
pub extern "C" fn input() -> *mut u8 {
    core().input.as_mut_ptr()
}

/// Address of the last batch ([`Core::batch`] gives its length).
#[no_mangle]
pub extern "C" fn out() -> *const u8 {
    core().out().as_ptr()
}

/// [`Core::set`]; returns 1 when the value fitted.
#[no_mangle]
pub extern "C" fn set(slot: u32, len: u32) -> u32 {
    Slot::from_abi(slot).is_some_and(|s| core().set(s, len)) as u32
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

/// [`Core::flag`].
#[no_mangle]
pub extern "C" fn flag(name: u32, v: u32) {
    core().flag(name, v != 0)
}

/// [`Core::str`], `mode` as [`Text::from_abi`].
#[no_mangle]
pub extern "C" fn str(name: u32, len: u32, mode: u32) {
    core().str(name, len, Text::from_abi(mode))
}

/// [`Core::raw`].
#[no_mangle]
pub extern "C" fn raw(name: u32, len: u32) {
    core().raw(name, len)
}

/// [`Core::open`].
#[no_mangle]
pub extern "C" fn open(name: u32) {
    core().open(name)
}

/// [`Core::close`].
#[no_mangle]
pub extern "C" fn close() {
    core().close()
}

/// [`Core::sel`].
#[no_mangle]
pub extern "C" fn sel(name: u32, len: u32) {
    core().sel(name, len)
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
