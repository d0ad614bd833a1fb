//! The source of "now", injected so that tests are exact.

use chrono::{DateTime, FixedOffset};

/// Tells the current wall-clock time, with the local UTC offset.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time.
    fn now(&self) -> DateTime<FixedOffset>;
}

/// The system clock in the machine's local offset.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<FixedOffset> {
        chrono::Local::now().fixed_offset()
    }
}

/// A clock that returns a fixed time, advanced by hand.
#[derive(Debug)]
pub struct FixedClock(pub std::sync::Mutex<DateTime<FixedOffset>>);

impl FixedClock {
    /// A clock stopped at `t`.
    pub fn new(t: DateTime<FixedOffset>) -> Self {
        Self(std::sync::Mutex::new(t))
    }

    /// Sets the clock to `t`.
    pub fn set(&self, t: DateTime<FixedOffset>) {
        if let Ok(mut g) = self.0.lock() {
            *g = t;
        }
    }

    /// Moves the clock by `d` (which may be negative, like a real clock adjustment).
    pub fn advance(&self, d: chrono::Duration) {
        if let Ok(mut t) = self.0.lock() {
            *t += d;
        }
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<FixedOffset> {
        match self.0.lock() {
            Ok(t) => *t,
            Err(p) => *p.into_inner(),
        }
    }
}
