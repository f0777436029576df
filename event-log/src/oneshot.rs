//! A minimal single-use channel carrying one append result from the writer thread to an
//! [`AppendFuture`](crate::AppendFuture), so the crate needs no async runtime.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use crate::error::LogError;
use crate::{lock, Appended};

type Outcome = Result<Appended, LogError>;

enum Slot {
    Waiting(Option<Waker>),
    Ready(Outcome),
    Taken,
}

/// Writer-side half; dropping it without completing resolves the future with [`LogError::Closed`]
/// (e.g. the request was still queued when the writer thread went away).
pub(crate) struct Completer {
    slot: Arc<Mutex<Slot>>,
    completed: bool,
}

/// Caller-side half.
pub(crate) struct Wait {
    slot: Arc<Mutex<Slot>>,
}

/// Creates a connected pair.
pub(crate) fn channel() -> (Completer, Wait) {
    let slot = Arc::new(Mutex::new(Slot::Waiting(None)));
    (Completer { slot: Arc::clone(&slot), completed: false }, Wait { slot })
}

impl Completer {
    /// Delivers the outcome and wakes the waiting task.
    pub(crate) fn complete(mut self, outcome: Outcome) {
        self.completed = true;
        deliver(&self.slot, outcome);
    }
}

fn deliver(slot: &Mutex<Slot>, outcome: Outcome) {
    let waker = {
        let mut s = lock(slot);
        match std::mem::replace(&mut *s, Slot::Ready(outcome)) {
            Slot::Waiting(w) => w,
            // Only one completer exists and it completes at most once.
            Slot::Ready(_) | Slot::Taken => None,
        }
    };
    // Wake outside the lock: the waker may run arbitrary executor code.
    if let Some(w) = waker {
        w.wake();
    }
}

impl Drop for Completer {
    fn drop(&mut self) {
        if !self.completed {
            deliver(&self.slot, Err(LogError::Closed));
        }
    }
}

impl Future for Wait {
    type Output = Outcome;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome> {
        let mut s = lock(&self.slot);
        match std::mem::replace(&mut *s, Slot::Taken) {
            Slot::Ready(outcome) => Poll::Ready(outcome),
            Slot::Waiting(_) => {
                *s = Slot::Waiting(Some(cx.waker().clone()));
                Poll::Pending
            }
            Slot::Taken => panic!("append future polled after it completed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    struct CountingWaker(AtomicUsize);
    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn pending_then_ready_wakes_once() {
        let (tx, mut rx) = channel();
        let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&counter));
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut rx).poll(&mut cx).is_pending());
        let appended = Appended { partition: 1, offset: 2, append_ms: 3 };
        tx.complete(Ok(appended));
        assert_eq!(counter.0.load(Ordering::SeqCst), 1);
        match Pin::new(&mut rx).poll(&mut cx) {
            Poll::Ready(Ok(a)) => assert_eq!(a, appended),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn dropped_completer_resolves_closed() {
        let (tx, mut rx) = channel();
        drop(tx);
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        assert!(matches!(Pin::new(&mut rx).poll(&mut cx), Poll::Ready(Err(LogError::Closed))));
    }
}
