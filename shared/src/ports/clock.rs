//! `Clock` port and time-ordered ids: the system clock in production, a settable clock in tests.

use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use ulid::Ulid;

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;

    /// A new ULID whose time part is `now()`.
    fn new_id(&self) -> Ulid {
        Ulid::from_datetime(self.now().into())
    }

    fn epoch_seconds(&self) -> i64 {
        self.now().timestamp()
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct FixedClock(Mutex<DateTime<Utc>>);

impl FixedClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(Mutex::new(at))
    }

    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().expect("clock lock") = at;
    }

    pub fn advance(&self, by: Duration) {
        *self.0.lock().expect("clock lock") += by;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock lock")
    }
}
